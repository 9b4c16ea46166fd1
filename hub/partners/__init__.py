"""The services partners are served by: connectors built from ``connectors.yaml`` and the
adapter registry, ingestion (transport, archive, codec, mapping, case resolution, store),
pushed messages, replays, run records and alerting, outbound rendering and delivery,
conformance checks of a partner's samples, and the scheduler that runs connectors.
Partners' formats live in their mappings and in ``adapters/``, never here.
"""
