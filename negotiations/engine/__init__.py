"""WHAT: the turn engine and where it runs: the engine, the runner interface and its asyncio runner, recovery."""
