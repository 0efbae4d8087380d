"""WHAT: the client side of the provider layer: HTTP to OpenAI-compatible servers, retries, SSE decoding, errors."""
