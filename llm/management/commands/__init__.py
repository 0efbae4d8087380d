"""WHAT: `runserver_with_local_llm` (what `make run` runs) and `serve_local_llm`."""
