"""``Closing``, the base of what is held open for a while, in a module of its own.

`hub.ports` gives it to the adapters with the other ports; the hub's own composition root
(`hub.bootstrap`, which every command that reads the store imports to open its database)
takes it from here, so that such a command does not import the ports' protocols,
dataclasses and pydantic settings model for one base class (issue 17).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self


class Closing(ABC):
    """A resource held open for a while (a connection pool, an SFTP session, the hub's
    senders): used in a ``with`` block, it is closed at the block's end whatever
    happens. Subclasses say what closing means."""

    @abstractmethod
    def close(self) -> None:
        """Release what the resource holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
