"""Adapters: partner formats (codecs) and the ways bytes travel (transports)."""
