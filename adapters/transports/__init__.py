"""Transports: how the hub reaches partners, each behind hub.ports.Transport."""
