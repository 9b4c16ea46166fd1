"""Partner simulators: small HTTP servers that behave like the partners' sheets say.

The hub's tests and its demo talk to these instead of the real partners, so every quirk a
sheet warns about (rate limits, maintenance windows, duplicate pages, expired tokens, late,
doubled or missing pushes, bad signatures) can be switched on at will and reproduced with a
seed. Each simulator runs uvicorn in a background thread on a free loopback port::

    from simulators.techniservice.app import TechniServiceSimulator

    with TechniServiceSimulator(api_key="k") as ts:
        ts.add_change("TS-88120", "BM-000045", 25, "2026-11-03T10:41:00+01:00")
        httpx.get(f"{ts.base_url}/repairs/changes", headers={"X-Api-Key": "k"})

- :mod:`simulators.techniservice`: the repairer's XML-over-REST API.
- :mod:`simulators.colis_express`: the carrier's JSON API and its signed push.
- :mod:`simulators.server`: the shared server thread, clock, rate limiter, maintenance.

This package imports none of them itself, so ``python -m simulators.techniservice`` runs
the module once, as ``__main__``.
"""
