"""The retailer API (FastAPI): HTTP in and out, the hub's services do the work."""

from hub.api.app import create_app

__all__ = ["create_app"]
