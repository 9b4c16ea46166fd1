"""Keeping every party in sync: which events make which messages go to whom."""
