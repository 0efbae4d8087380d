"""WHAT: development tooling for the bundled local model (SmolLM2 on llama-cpp-python's server)."""
