"""The services operators are served by: the network's health and each connector's state
(one source for the CLI, the console and ``/metrics``), the one-screen overview, and the
Prometheus figures. Read from the store; the actions operators take (pause, replay,
dead letters) live with what they act on.

- :mod:`.status` each connector's state and the outbox, read at once.
- :mod:`.listings` names, runs, rejected records and unmapped codes.
- :mod:`.schedules` when a schedule next fires, and when a run is late.
- :mod:`.jsonable` any of these results as JSON-ready data.
"""
