"""WHAT: the agents: what each side decides (strategy), says (prompts, text) and may not say (guardrails)."""
