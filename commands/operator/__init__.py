"""Operator commands (split by command group in the next commit)."""
