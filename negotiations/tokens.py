"""WHAT: access tokens for a negotiation's buyer, seller and observer.
WHY: a token is a bearer credential; a database leak must not hand out working tokens, so only a
     digest is stored and the plaintext is shown once, by `negotiation_create`.
HOW: 32 random bytes from `secrets` (url-safe text); stored as sha256 hex (the token already has 256
     bits of entropy, so a slow password hash would add nothing); compared with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def token_generate() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time check of a presented token against a stored digest."""
    return hmac.compare_digest(token_hash(token), stored_hash)
