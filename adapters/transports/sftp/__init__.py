"""The SFTP transport: files a partner drops on its server, listed, read and archived, and
the files the hub writes there.

- :mod:`.errors` what can go wrong, as hub errors the engine acts on.
- :mod:`.hostkey` the pinned host key, and refusing any other.
- :mod:`.settings` one server's settings, secrets resolved, checked once.
- :mod:`.session` the account's session slots, one live session, closing it cleanly.
- :mod:`.connect` opening a session: handshake, host key check, authentication.
- :mod:`.names` plain remote names, free archive names, times in UTC.
- :mod:`.inbound` listing, fetching and acknowledging (archiving) the partner's files.
- :mod:`.outbound` uploading under a temporary name, then renaming.
- :mod:`.transport` the Transport port, a dropped session reopened once.
- :mod:`.spec` the ``sftp`` settings in connectors.yaml.
- :mod:`.from_spec` the transport a connectors.yaml entry describes (the entry point).
"""
