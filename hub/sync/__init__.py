"""Keeping every party in sync: which events make which messages go to whom."""

HUB_PARTY = "hub"
"""The party the hub's own events are reported by (registered with the network). Here,
not in the engine, so that a service writing the hub's events (an erasure, a breach)
does not import the sync rules to name it (issue 17)."""
