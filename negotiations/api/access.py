"""WHAT: who is asking about a negotiation — a participant's or observer's bearer token, or staff — and what
     that makes them (`NegotiationAccess`); also who may create one, or act as a listing's owner or a mandate.
WHY: every negotiation endpoint (detail, start, cancel, history, stream; DRF and async alike) must
     answer the same way: no credentials 401, a token that matches nothing 401, a token of another
     negotiation 404 (it proves the caller is a participant somewhere, not here), staff everything.
HOW: `request_token` reads `Authorization: Bearer`, else `?token=`, else (a GET of a negotiation's route) the
     web page's cookie for it. `negotiation_access_get` authenticates before any lookup, and every endpoint
     asks it first, so no credentials is always a 401. The rules: docs/negotiations.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework.authentication import BaseAuthentication, SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from marketplace.errors import NotAuthenticatedError, NotFoundError, PermissionDeniedError
from marketplace.gateway_keys import GatewayKeyAuthentication, gateway_keys, require_gateway_key
from negotiations.models import Listing, Mandate, Negotiation
from negotiations.selectors import mandate_id_for_token, negotiation_get, negotiation_id_for_token, viewer_for_token
from negotiations.tokens import token_matches
from negotiations.validation import MAX_ID
from negotiations.visibility import Viewer

__all__ = [
    "CREATE_AUTHENTICATION",
    "AccessCheckedByTheView",
    "CreateNeedsGatewayKeyOrStaff",
    "NegotiationAccess",
    "NegotiationToken",
    "NegotiationTokenAuthentication",
    "is_staff",
    "listing_owner_or_staff",
    "mandate_access_get",
    "negotiation_access_get",
    "negotiation_cookie_name",
    "request_token",
    "require_participant",
    "staff_user_from_request",
]

MAX_TOKEN_CHARS = 256  # ours are 43; anything far longer is not worth hashing


@dataclass(frozen=True)
class NegotiationToken:
    """A presented negotiation token (not yet checked against any negotiation)."""

    value: str


@dataclass(frozen=True)
class NegotiationAccess:
    negotiation: Negotiation
    viewer: Viewer


def negotiation_cookie_name(negotiation_id: int) -> str:
    """The cookie in which the web pages (web/access.py) keep a viewer's token for one negotiation."""
    return f"negotiation_{negotiation_id}"


def request_token(request: Any) -> str | None:
    """The bearer token of a Django or DRF request: the Authorization header first, then `?token=`, then
    (GET/HEAD of a negotiation's own route only) that negotiation's web-page cookie, so the page's
    EventSource is authenticated by the HttpOnly cookie and the token never appears in the page."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = request.GET.get("token", "").strip()
    if token:
        return token
    match = getattr(request, "resolver_match", None)
    negotiation_id = match.kwargs.get("negotiation_id") if match is not None else None
    if negotiation_id is None or request.method not in ("GET", "HEAD"):
        return None  # a cookie is never a credential for a change (no CSRF through it)
    return request.COOKIES.get(negotiation_cookie_name(negotiation_id), "").strip() or None


class NegotiationTokenAuthentication(BaseAuthentication):
    """DRF authenticator that picks up a negotiation token (header or query). It identifies no user:
    `request.auth` becomes a `NegotiationToken` and the view checks it against the negotiation."""

    def authenticate(self, request: Any) -> tuple[None, NegotiationToken] | None:
        token = request_token(request)
        return None if token is None else (None, NegotiationToken(token))

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"


# What negotiation endpoints accept, in order: a negotiation token wins over a staff identity.
NEGOTIATION_AUTHENTICATION = [NegotiationTokenAuthentication, SessionAuthentication, TokenAuthentication]
# Creating: staff by session or DRF token, or a gateway key (required only when keys are set; the
# permission below decides, this list is what the schema documents).
CREATE_AUTHENTICATION = [SessionAuthentication, TokenAuthentication, GatewayKeyAuthentication]


def staff_user_from_request(request: Any) -> bool:
    """For plain Django views: is the caller staff, by session (AuthenticationMiddleware) or by
    `Authorization: Token <key>`? A wrong DRF token raises AuthenticationFailed (401)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active and user.is_staff:
        return True
    try:
        authenticated = TokenAuthentication().authenticate(request)
    except AuthenticationFailed as exc:
        raise NotAuthenticatedError(str(exc.detail)) from exc
    return authenticated is not None and authenticated[0].is_staff


class AccessCheckedByTheView(BasePermission):
    """Lets every request through to the view, which decides with `negotiation_access_get` (it needs the
    negotiation id). Unlike AllowAny, it does not make the OpenAPI schema offer anonymous access."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return True


class CreateNeedsGatewayKeyOrStaff(BasePermission):
    """With gateway keys set, a request needs `Authorization: Bearer <gateway key>` or a staff user;
    otherwise 401 NOT_AUTHENTICATED (before the body is read, so nothing is written)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        keys = gateway_keys()
        if not keys:
            return True
        user = request.user
        if user is not None and user.is_authenticated and user.is_active and user.is_staff:
            return True
        # Checked here too, not only by GatewayKeyAuthentication: a logged-in non-staff user stops the
        # authenticators at the session, before the key's.
        require_gateway_key(request, keys)
        return True


def negotiation_access_get(*, negotiation_id: int, token: str | None, staff: bool) -> NegotiationAccess:
    """The negotiation and the viewer the credentials make; raises 401 / 404 as the module says."""
    if token is not None:
        return _token_access(negotiation_id, token)
    if not staff:
        raise NotAuthenticatedError("A negotiation token is required (Authorization: Bearer <token>, or ?token=).")
    negotiation = negotiation_get(negotiation_id=negotiation_id) if 0 < negotiation_id <= MAX_ID else None
    if negotiation is None:
        raise NotFoundError("No such negotiation.")
    return NegotiationAccess(negotiation, Viewer.staff())


def _token_access(negotiation_id: int, token: str) -> NegotiationAccess:
    owner = negotiation_id_for_token(token=token) if len(token) <= MAX_TOKEN_CHARS else None
    if owner is None:
        return _mandate_access(negotiation_id, token)
    if owner != negotiation_id:
        raise NotFoundError("No such negotiation.")
    negotiation = negotiation_get(negotiation_id=negotiation_id)
    viewer = viewer_for_token(negotiation=negotiation, token=token) if negotiation is not None else None
    if viewer is None:  # deleted meanwhile
        raise NotFoundError("No such negotiation.")
    return NegotiationAccess(negotiation, viewer)


def _mandate_access(negotiation_id: int, token: str) -> NegotiationAccess:
    """A mandate's token is the buyer's token in each of the mandate's negotiations."""
    mandate_id = mandate_id_for_token(token=token) if len(token) <= MAX_TOKEN_CHARS else None
    if mandate_id is None:
        raise NotAuthenticatedError("The token is not valid.")
    negotiation = negotiation_get(negotiation_id=negotiation_id) if 0 < negotiation_id <= MAX_ID else None
    if negotiation is None or negotiation.mandate_id != mandate_id:
        raise NotFoundError("No such negotiation.")
    return NegotiationAccess(negotiation, Viewer("buyer"))


def is_staff(request: Any) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)


def listing_owner_or_staff(request: Any, listing: Listing) -> bool:
    """May this DRF request act as the listing's owner? Its owner token (header or query) or staff:
    True; no credentials: False. A token that is not this listing's: 403 PERMISSION_DENIED."""
    token = request_token(request)
    if token is not None:
        if (
            listing.owner_token_hash
            and len(token) <= MAX_TOKEN_CHARS
            and token_matches(token, listing.owner_token_hash)
        ):
            return True
        raise PermissionDeniedError("This token does not own the listing.")
    return is_staff(request)


def mandate_access_get(request: Any, mandate_id: int) -> Mandate:
    """The mandate for its token's holder or staff; 401 without credentials or for an unknown token,
    404 for a token of another mandate or an unknown id."""
    token = request_token(request)
    if token is not None:
        owner = mandate_id_for_token(token=token) if len(token) <= MAX_TOKEN_CHARS else None
        if owner is None:
            raise NotAuthenticatedError("The token is not valid.")
        if owner != mandate_id:
            raise NotFoundError("No such mandate.")
    elif not is_staff(request):
        raise NotAuthenticatedError("The mandate's token is required (Authorization: Bearer <token>).")
    mandate = Mandate.objects.filter(pk=mandate_id).first() if 0 < mandate_id <= MAX_ID else None
    if mandate is None:
        raise NotFoundError("No such mandate.")
    return mandate


def require_participant(access: NegotiationAccess, *, action: str) -> None:
    """Starting and cancelling are for the buyer, the seller and staff; an observer only watches."""
    if access.viewer.role == "observer":
        raise PermissionDeniedError(f"An observer token cannot {action} a negotiation.")
