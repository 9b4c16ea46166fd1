"""The hub's logs: one JSON object a line for a log collector, human lines on a terminal.

Every line written while a run, a message or a delivery is handled carries its ids
(``run_id``, ``message_id`` for an outbox message, ``raw_id`` for a partner's message
as archived, ``case_ref``, ``connector``, ``partner``), set once by the code that
starts the work with ``log_context`` and read from a context variable, so that code deep
down (a transport, a codec) logs without knowing them. Levels come from the environment:
``HUB_LOG_LEVEL=info,hub.sync=debug`` (the root level, then one level per logger).

What the hub logs never holds a secret or a customer's personal data: log lines name
records by their ids, never by their content; as a safety net the formatter masks the
values of the secrets this process knows (every environment variable the network names
for a secret, and any variable whose name says it is one) and the input values that
validation errors quote.

The standard logging module with a small formatter is enough here: structlog or
python-json-logger would add a dependency for the same dozen lines, and the libraries
the hub uses (uvicorn, httpx, paramiko, APScheduler) log through the standard module
anyway, so their lines go through the same formatter and the same masking.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import IO, Any

from hub.errors import ConfigurationError

LEVEL_VARIABLE = "HUB_LOG_LEVEL"
FORMAT_VARIABLE = "HUB_LOG_FORMAT"
"""``json`` or ``text`` to force a format; by default JSON unless stderr is a terminal."""

IDS = ("run_id", "message_id", "raw_id", "case_ref", "connector", "partner")
"""The ids a line of a run, a message or a delivery carries, in this order."""

_context: ContextVar[Mapping[str, str]] = ContextVar("hub_log_context", default={})  # noqa: B039 - never mutated

SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSPHRASE|API_KEY|PRIVATE_KEY|CREDENTIAL", re.I)
"""Environment variables whose names say they hold a secret."""
MIN_SECRET = 6
"""Shorter values would mask ordinary words and numbers; no real secret is that short."""
QUOTED_INPUT = re.compile(r"input_value=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")
"""Pydantic quotes the value it refused in its error text: a name, a phone number."""
MASK = "***"
_MASKED_INPUT = f"input_value={MASK}"
QUIET = {"alembic": logging.WARNING, "apscheduler": logging.WARNING}
"""Libraries that say at info what the hub does every second (a job fired, a schema
revision read by /readyz): warnings only, unless HUB_LOG_LEVEL names them."""
PER_REQUEST = {"httpx": logging.WARNING}
"""Libraries that log every request at info: the hub says each delivery itself, with its
ids (hub.sync.outbox), and a line more per webhook cost a busy dispatcher a tenth of its
time (docs/performance.md). Warnings only at info; every line at debug, or when
HUB_LOG_LEVEL names them."""


def log_context(**ids: object) -> AbstractContextManager[None]:
    """Every line logged inside carries these ids (None values are left out), on top of
    those already set by an enclosing context. Only the names of ``IDS``: a line's own
    fields (time, level, message) must not be overwritten."""
    if not _KNOWN_IDS.issuperset(ids):
        unknown = set(ids) - _KNOWN_IDS
        raise ValueError(f"not a log id: {', '.join(sorted(unknown))}")
    return _LogContext({key: str(value) for key, value in ids.items() if value is not None})


_KNOWN_IDS = frozenset(IDS)


class _LogContext(AbstractContextManager[None]):
    """The ids of ``log_context`` set while inside. A class, not a generator: the
    dispatcher enters one per delivery, and a generator's context manager cost about as
    much as the rest of its line's bookkeeping (issue 17)."""

    __slots__ = ("_added", "_token")

    def __init__(self, added: dict[str, str]) -> None:
        self._added = added
        self._token: Token[Mapping[str, str]] | None = None

    def __enter__(self) -> None:
        self._token = _context.set({**_context.get(), **self._added})

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _context.reset(self._token)
            self._token = None


def current_context() -> Mapping[str, str]:
    return _context.get()


_UNKNOWN_CALLER = ("(unknown file)", 0, "(unknown function)")
"""What ``Logger._log`` records when the caller lookup is off (``logging._srcfile``)."""


class LogSite:
    """One line of the code that logs at one level, for a line written for every
    delivery (issue 17). ``Logger.info`` looks up its caller for every record
    (``findCaller``: the stack walked, each frame's file name normalized; about 17 k
    instructions, 1 % of a delivery), although the place of one call never moves: here it
    is looked up on the first call and kept. The record is then built and handled as
    ``Logger._log`` does (``makeRecord`` with the same path, line and function, then
    ``handle``), so every field a formatter or a handler may read is the same; nothing
    process-wide changes, other loggers' lines still look up their callers. Call it from
    one line only: a second line would be recorded as the first."""

    __slots__ = ("_level", "_logger", "_where")

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self._logger = logger
        self._level = level
        self._where: tuple[str, int, str] | None = None

    def __call__(self, msg: str, *args: object) -> None:
        logger = self._logger
        if not logger.isEnabledFor(self._level):
            return
        where = self._where
        if not logging._srcfile:  # the lookup turned off process-wide: as _log records it
            where = _UNKNOWN_CALLER
        elif where is None:
            caller = sys._getframe(1)
            code = caller.f_code
            where = self._where = (code.co_filename, caller.f_lineno, code.co_name)
        logger.handle(
            logger.makeRecord(
                logger.name, self._level, where[0], where[1], msg, args, None, where[2]
            )
        )


class Masker:
    """Replaces known secret values and quoted input values in a finished line."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._longest_first: tuple[str, ...] = ()

    def add(self, values: Iterable[str | None]) -> None:
        self._secrets.update(v for v in values if v is not None and len(v) >= MIN_SECRET)
        # Sorted once, not for every line: a busy dispatcher writes hundreds a second.
        self._longest_first = tuple(sorted(self._secrets, key=len, reverse=True))

    def add_variables(self, names: Iterable[str], environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.add(env.get(name) for name in names)

    def mask(self, text: str) -> str:
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, MASK)
        # The pattern starts with this text: a line without it has nothing to mask, and
        # the scan of every line for it cost a delivery's line 4 k instructions (issue 17).
        if "input_value=" in text:
            text = QUOTED_INPUT.sub(_MASKED_INPUT, text)
        return text


masker = Masker()
"""The process's one masker: bootstrap registers the network's secrets with it."""


def secret_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return [name for name in env if SECRET_NAME.search(name)]


class _ContextFilter(logging.Filter):
    """Copies the current ids onto the record (``record.hub_ids``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.hub_ids = dict(_context.get())
        return True


def _ids(record: logging.LogRecord) -> Mapping[str, str]:
    found: Mapping[str, str] = getattr(record, "hub_ids", {})
    return found


_LINE = json.JSONEncoder(ensure_ascii=False)
"""A JSON line's encoder, built once: ``json.dumps`` with an option builds one for every
line (issue 17)."""

_KEY_TEXT: dict[str, str] = {}
"""Each field name of a line as written before its value (``"time": ``), once per name."""


def _json_line(entry: Mapping[str, object]) -> str:
    """``_LINE.encode(entry)``, the same text, for a line whose names and values are all
    texts (every line the formatter writes): the encoder builds its C encoder anew for
    every object it is given (issue 17). Each text goes through ``encode_basestring``,
    the very function the encoder calls for a text when ``ensure_ascii`` is off, and the
    texts are joined as the encoder joins them; a delivery's line is 8.7 k instructions
    cheaper (of its formatter's 45 k). Anything else takes the encoder's whole way."""
    texts: list[str] = []
    for key, value in entry.items():
        if type(value) is not str:
            return _LINE.encode(entry)
        head = _KEY_TEXT.get(key)
        if head is None:
            if type(key) is not str:
                return _LINE.encode(entry)
            head = _KEY_TEXT[key] = encode_basestring(key) + ": "
        texts.append(head + encode_basestring(value))
    return "{" + ", ".join(texts) + "}"


class _LineTime:
    """A record's instant as ``datetime.fromtimestamp(created, UTC).isoformat(timespec=
    "milliseconds")`` writes it, the date and time of its whole second worked out once
    per second: the dispatcher writes a line for every delivery, and the datetime built,
    then written, for each cost about as much as the rest of the formatter (issue 17).
    The microseconds are rounded as ``fromtimestamp`` rounds them (half to even, a
    rounding up to the next second carried), then cut to milliseconds as ``isoformat``
    cuts them, so the text is the same."""

    __slots__ = ("_second",)

    def __init__(self) -> None:
        self._second: tuple[int, str] = (0, "1970-01-01T00:00:00")

    def __call__(self, created: float) -> str:
        fraction, whole = math.modf(created)
        second = int(whole)
        micro = round(fraction * 1e6)
        if micro >= 1_000_000:
            micro -= 1_000_000
            second += 1
        elif micro < 0:
            micro += 1_000_000
            second -= 1
        kept, text = self._second
        if kept != second:
            text = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")[:-6]
            self._second = (second, text)
        milli = micro // 1000
        after = _AFTER_SECOND[milli]
        if after is None:
            after = _AFTER_SECOND[milli] = f".{milli:03d}+00:00"
        return text + after


_AFTER_SECOND: list[str | None] = [None] * 1000
"""A UTC instant's text after its whole second, by millisecond, each written once when
first needed (all of them at import would cost a command's start more than it saves)."""


_line_time = _LineTime()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the ids, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _line_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": masker.mask(record.getMessage()),
        }
        entry.update(_ids(record))
        if record.exc_info:
            entry["exception"] = masker.mask(self.formatException(record.exc_info))
        return _json_line(entry)


class TextFormatter(logging.Formatter):
    """A line for a person at a terminal: time, level, logger, ids, message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{key}={value}" for key, value in _ids(record).items())
        line = super().format(record)
        if ids:
            head, _, message = line.partition(": ")
            line = f"{head} [{ids}]: {message}"
        return masker.mask(line)


HANDLER_NAME = "hub-stderr"


def detach_logging() -> None:
    """Take the hub's stderr handler off again: for a command whose terminal tells a
    story of its own and whose logs go to a file (`hub demo`)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)


def parse_levels(spec: str) -> tuple[int, dict[str, int]]:
    """``info,hub.sync=debug`` -> (INFO, {"hub.sync": DEBUG}); a bad level is refused."""
    root = logging.INFO
    levels: dict[str, int] = {}
    for part in (piece.strip() for piece in spec.split(",")):
        if not part:
            continue
        name, _, level = part.rpartition("=")
        number = logging.getLevelName(level.strip().upper())
        if not isinstance(number, int):
            raise ConfigurationError(f"{LEVEL_VARIABLE}: {level.strip()!r} is not a log level")
        if name.strip():
            levels[name.strip()] = number
        else:
            root = number
    return root, levels


def configure_logging(
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    default: str = "warning",
) -> None:
    """Send every logger's lines to ``stream`` (stderr) in the format its reader wants,
    at the levels the environment asks for (else ``default``: a one-shot command says
    only what went wrong, `hub serve` what it does). Called again, it starts over."""
    env = os.environ if environ is None else environ
    target = stream if stream is not None else sys.stderr
    root_level, levels = parse_levels(env.get(LEVEL_VARIABLE) or default)
    wanted = env.get(FORMAT_VARIABLE, "").lower()
    as_json = wanted == "json" or (wanted != "text" and not target.isatty())
    handler = logging.StreamHandler(target)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    handler.addFilter(_ContextFilter())
    handler.set_name(HANDLER_NAME)
    detach_logging()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(root_level)
    quiet = QUIET | (PER_REQUEST if root_level > logging.DEBUG else {})
    for name in PER_REQUEST:
        logging.getLogger(name).setLevel(logging.NOTSET)  # as the root says, unless quiet
    for name, level in (quiet | levels).items():
        logging.getLogger(name).setLevel(level)
    masker.add_variables(secret_variables(env), env)
