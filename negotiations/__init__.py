"""WHAT: the marketplace: listings, buyer and seller agents, the turn engine, its event log, API and live streams."""
