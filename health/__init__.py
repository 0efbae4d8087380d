"""WHAT: the `health` app: readiness, liveness and provider status endpoints (see health/apis.py)."""
