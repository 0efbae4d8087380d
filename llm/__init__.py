"""WHAT: the `llm` app: the LLM provider layer (registry, providers, upstream client) and the gateway API."""
