"""TechniService simulator: the repairer's XML-over-REST API, faults included.

It follows ``docs/partners/techniservice.md``: ``X-Api-Key`` on every call, a change feed
paged by an opaque token that expires after seven days, repair orders validated against the
sheet's XSD, a 5 requests/second rate limit and maintenance windows. Tests drive its state
with :meth:`~simulators.techniservice.app.TechniServiceSimulator.add_change` and switch its
faults on one by one.

- :mod:`~simulators.techniservice.repairs`: the simulated data (repairs, the change log,
  the feed's tokens).
- :mod:`~simulators.techniservice.documents`: XML in and out, and the order's XSD checks.
- :mod:`~simulators.techniservice.faults`: the fault switches and the gate of every call.
- :mod:`~simulators.techniservice.app`: the HTTP API over them.

Manual run: ``python -m simulators.techniservice --port 8081`` (the sheet's sample changes
are loaded unless ``--empty``).
"""
