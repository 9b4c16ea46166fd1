"""The CSV codec: partner CSV bytes <-> records (split by job in the next change)."""
