"""The services operators are served by: the network's health and each connector's state
(one source for the CLI, the console and ``/metrics``), the one-screen overview, and the
Prometheus figures. Read from the store; the actions operators take (pause, replay,
dead letters) live with what they act on.
"""
