"""The after-sales partner hub. Imports no partner.

Layers, each importing only those before it: ``model`` (the canonical after-sales
model, pure), ``store`` (tables, migrations, every query), ``mapping`` (the mapping
language and its pure engine), ``config`` (settings and the network file), then the
services by audience: ``partners``, ``retailers``, ``operators``, with ``sync`` (routing
and the outbox) and ``sla`` (service levels) between them; then the entry points:
``api`` and ``console`` (the ``hub`` CLI is ``commands/``). ``errors`` is the one error
hierarchy and ``ports`` the shapes adapters implement; both are used everywhere.
"""

__version__ = "0.1.0"
