"""WHAT: a negotiation's live streams: the broadcaster, each viewer's exactly-once follower, SSE frames, the view."""
