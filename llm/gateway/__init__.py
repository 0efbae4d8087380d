"""WHAT: the gateway's HTTP side: the OpenAI-compatible endpoints, their input validation, wire format and keys."""
