"""WHAT: the `llm` app's management commands (in commands/)."""
