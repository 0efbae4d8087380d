"""WHAT: fixtures shared by the whole test suite.
WHY: every app's tests need the same fakes (the fake OpenAI-compatible server, a scripted provider).
HOW: session-scoped servers on 127.0.0.1 at free ports; per-test state is reset by the fixtures.
"""
