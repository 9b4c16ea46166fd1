"""Example adapters for the after-sales hub, packaged as any third party would.

- :mod:`.keyvalue` the ``keyvalue`` codec: blocks of ``key=value`` lines, one record each.
- :mod:`.spool` the ``jsonl-spool`` transport: messages read from (and written to)
  JSON-lines spool files in a folder.

Both register through entry points (see ``pyproject.toml``) with an
:class:`hub.ports.AdapterInfo`; the hub finds, checks and builds them like its own.
"""
