"""Keeping every party in sync: which events make which messages go to whom."""

HUB_PARTY = "hub"
"""The party the hub's own events are reported by (registered with the network). Here,
not in the engine, so that a service writing the hub's events (an erasure, a breach)
does not import the sync rules to name it (issue 17)."""

DELIVERIES_PER_RECEIVER = 8
"""Outbox deliveries in flight at once to one retailer's webhook, per process (`hub
serve --deliveries-per-receiver`): enough to hide a receiver's round trip, few enough
for an endpoint sized for a handful of clients. 1 sends one message at a time. A
partner's connector still gets one at a time (``Deliveries.overlaps``). Here, not in the
bootstrap, so that `hub serve`'s options name it without importing the hub."""

DELIVERIES_PER_RECEIVER_VARIABLE = "HUB_DELIVERIES_PER_RECEIVER"
