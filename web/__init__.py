"""WHAT: the web app: server-rendered pages where people watch the market and its negotiations.
WHY: reading JSON and `curl -N` is for programs; people would rather look (docs/web.md).
HOW: Django templates and one small vanilla JS module (no build step) over the same selectors,
     services and visibility rule as the API; the live view reads the API's SSE stream.
"""
