"""Ingestion (split by job in the next commit)."""
