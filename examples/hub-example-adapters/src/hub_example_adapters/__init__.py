"""Example adapters for the after-sales hub, packaged as any third party would.

- :mod:`.keyvalue` the ``keyvalue`` codec: blocks of ``key=value`` lines, one record each.
- :mod:`.spool` the ``jsonl-spool`` transport: messages read from (and written to)
  JSON-lines spool files in a folder.
- :mod:`.feed` the ``http-feed`` transport: a change feed read page by page over HTTP,
  its cursor kept by the hub in its database (``Capability.PAGED``).

All register through entry points (see ``pyproject.toml``) with an
:class:`hub.ports.AdapterInfo`; the hub finds, checks and builds them like its own.
"""
