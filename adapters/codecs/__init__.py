"""Format codecs: pure bytes <-> records, no I/O, so any transport can feed any codec."""
