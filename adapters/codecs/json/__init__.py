"""The JSON codec: partner JSON documents <-> records (split by job in the next change)."""
