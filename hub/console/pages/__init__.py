"""The console's routes (split by page group in the next commit)."""
