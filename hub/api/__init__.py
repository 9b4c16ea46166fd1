"""The retailer API (FastAPI): HTTP in and out, the hub's services do the work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.api.app import create_app
else:

    def __getattr__(name: str) -> Any:
        """``create_app`` loaded on first use: the CLI imports ``hub.api.commands`` and
        ``hub.api.listen`` to start, and must not pay for FastAPI then (issue 17)."""
        if name == "create_app":
            from hub.api.app import create_app

            return create_app
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["create_app"]
