"""Live streams of a negotiation: the broadcaster, each viewer's exactly-once follower, SSE frames and the view."""
