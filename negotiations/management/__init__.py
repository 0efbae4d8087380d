"""WHAT: the `negotiations` app's management commands (in commands/)."""
