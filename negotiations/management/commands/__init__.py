"""WHAT: `negotiate` (one negotiation in the foreground, its transcript live) and `evaluate` (metrics over scenarios)."""
