"""Receivers: how partners push to the hub over HTTP (who may, and what they are answered)."""
