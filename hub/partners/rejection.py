"""How a whole message's rejection is said, in a module of its own.

The pipeline writes the phrase and the operator's lists read it back: neither should
import the store (and SQLAlchemy) for one string, so it lives apart from the run records
(issue 17: `hub connectors check` imports the pipeline and no store).
"""

from __future__ import annotations

WHOLE_MESSAGE_REJECTED = "the whole message is rejected: "
"""How a whole message's rejection starts its reason (the operator's lists say it so)."""
