"""Ingestion: transport -> archive -> codec -> mapping -> case resolution -> store.

- :mod:`~hub.partners.ingest.pipeline`: bytes to events and rejects, no store involved.
- :mod:`~hub.partners.ingest.message`: storing one message (archive, chunks, resolution).
- :mod:`~hub.partners.ingest.report`: a run's report, and a run recorded without a lease.
- :mod:`~hub.partners.ingest.listed`: a transport's run (list, fetch, acknowledge).
- :mod:`~hub.partners.ingest.paged`: a paged source's run, from the stored cursor.
- :mod:`~hub.partners.ingest.items`: a run pulling objects one by one, by their keys.
- :mod:`~hub.partners.ingest.unprocessed`: archived messages never stored (pushes).
"""
