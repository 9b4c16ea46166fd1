"""Answering each message a partner sent with the acknowledgement it expects (an EDIFACT
CONTRL per interchange), for any codec that can build one (``Capability.ACKNOWLEDGE``).

Two halves, so that a crash or a failed put is made good honestly:

- :meth:`Acknowledger.record`, in the transaction that stores the message's events (or
  records its refusal): the codec builds the acknowledgement with the connector's next
  control reference, and it is kept as owed. The message is never stored without its
  answer owed, nor its answer owed without the message stored.
- :meth:`Acknowledger.put_owed`, after the commit and at the start of every run: each
  owed acknowledgement is put through the connector's transport, then marked sent. A put
  that fails leaves it owed (the attempt and its reason kept) and stops the run; the next
  run puts it first.

A message the partner sends again (its answer was lost) is recognised and not stored
twice, and gets a new acknowledgement with a new control reference, unless one is still
owed. The transport never overwrites a file: while an earlier answer of the same name
still waits for the partner to take it, the new one stays owed (retried each run).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import PurePosixPath

from hub.config.connector_spec import AcknowledgementSpec
from hub.errors import ConfigurationError, OutboundNameTaken, PartnerDataError
from hub.ports import AcknowledgingCodec, RawMessage, Transport
from hub.store import acknowledgements
from hub.store.archive import ArchivedMessage
from hub.store.db import Connection, Database

__all__ = ["Acknowledger", "acknowledgement_name"]

logger = logging.getLogger(__name__)


class _Values(dict[str, str]):
    def __missing__(self, key: str) -> str:
        known = ", ".join(sorted(self))
        raise ConfigurationError(
            f"acknowledgement file_name: no value {{{key}}} (there are: {known})"
        )


def acknowledgement_name(template: str, values: Mapping[str, str]) -> str:
    """The file name ``template`` gives with these values; an unknown placeholder is the
    integrator's to fix, and a value that would leave the folder is refused."""
    name = template.format_map(_Values(values))
    if "/" in name or "\\" in name or name in {"", ".", ".."}:
        raise ConfigurationError(f"acknowledgement file name {name!r} is not a plain file name")
    return name


@dataclass(frozen=True)
class Acknowledger:
    """One connector's acknowledgements: recorded with the message, put after it."""

    connector: str
    codec: AcknowledgingCodec
    spec: AcknowledgementSpec
    timezone: tzinfo = UTC
    """The zone the acknowledgement's preparation time is written in (the mapping's)."""

    def record(
        self,
        connection: Connection,
        message: RawMessage,
        archived: ArchivedMessage,
        stored_before: bool,
        *,
        now: datetime | None = None,
    ) -> None:
        """Owe the acknowledgement of ``message``; runs in its storing transaction."""
        if stored_before and acknowledgements.owed_for_message(
            connection, self.connector, archived.id
        ):
            return  # its answer has not gone yet: that one will do
        moment = now or datetime.now(UTC)
        number = acknowledgements.next_control_reference(connection, self.connector)
        reference = str(number).zfill(self.spec.reference_width)
        try:
            answer = self.codec.acknowledgement(
                message.content,
                control_reference=reference,
                prepared_at=moment.astimezone(self.timezone),
                source=message.ref.name,
            )
        except PartnerDataError as exc:
            # No envelope to answer (not an interchange at all): the message's refusal,
            # recorded with it, tells the operator why.
            logger.warning(
                "%s: %s cannot be acknowledged: %s", self.connector, message.ref.name, exc
            )
            return
        path = PurePosixPath(message.ref.name)
        values = {"name": path.name, "stem": path.stem, "reference": reference}
        values.update(answer.values)
        acknowledgements.owe(
            connection,
            self.connector,
            control_reference=number,
            message_id=archived.id,
            name=acknowledgement_name(self.spec.file_name, values),
            content=answer.content,
            accepted=answer.accepted,
            now=moment,
        )

    def put_owed(self, database: Database, transport: Transport) -> int:
        """Put every owed acknowledgement, oldest first; how many went. A failed put is
        recorded on it and raised: it stays owed for the next run. One whose name is still
        taken at the partner stays owed too, and the others go on."""
        with database.reading() as connection:
            pending = acknowledgements.owed(connection, self.connector)
        went = 0
        for owed in pending:
            try:
                transport.put(owed.name, owed.content)
            except OutboundNameTaken as exc:
                # An earlier answer of that name still waits for the partner to take it
                # (never overwritten): this one stays owed until then.
                with database.transaction() as connection:
                    acknowledgements.record_failure(connection, owed.id, exc.message)
                logger.info("%s: %s waits: %s", self.connector, owed.name, exc.message)
                continue
            except Exception as exc:
                with database.transaction() as connection:
                    acknowledgements.record_failure(
                        connection, owed.id, f"{type(exc).__name__}: {exc}"
                    )
                raise
            with database.transaction() as connection:
                acknowledgements.record_sent(connection, owed.id, now=datetime.now(UTC))
            went += 1
        return went
