"""Adapter conformance: a partner's samples, pinned by golden files, plus generic checks.

For every inbound message of a partner's mapping, each sample file in
``fixtures/<partner>/`` matching the message's file pattern is parsed and compared with
``<sample>.expected.jsonl`` (its events and rejects, in file order). Then the same
samples are ingested twice into a scratch store to prove a second read adds nothing;
mutated copies of the mapping must be refused; and every outbound message is rendered
from the canonical fixture cases, compared with its golden file, and read back.

A mapping naming a codec no installed package provides is skipped, with what to
install: one partner's plugin missing from a fresh clone must not fail the others.
"""

from __future__ import annotations

import copy
import difflib
import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.config.registry import installed
from hub.config.yamlfile import YamlDocument, read_yaml, validate
from hub.errors import ConfigurationError, HubError, PartnerDataError
from hub.mapping.formula_guard import guarded_record
from hub.mapping.inbound import InboundMapping
from hub.mapping.loader import build_answer_codec, build_codec, load_mapping
from hub.mapping.outbound import OutboundMapping, UnreadableAnswer, answer_values
from hub.mapping.spec import AnswerSpec, InboundSpec, MappingSpec, OutboundSpec
from hub.model.case import Case
from hub.model.event import Event
from hub.model.parties import Party, PartyRole
from hub.model.work import PartsOrder, PartsOrderLine, Shipment, ShipmentLeg
from hub.partners.ingest.message import ingest_message
from hub.partners.ingest.pipeline import InboundPipeline
from hub.ports import AdapterKind, Capability, MessageRef, RawMessage, Record
from hub.store.db import Database
from hub.store.migrate import upgrade
from hub.store.parties import save_party

FIXED_NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
"""The clock of conformance runs, so rendered file names and events are reproducible."""

PARTIAL_SUFFIXES = (".tmp", ".part")


@dataclass
class Check:
    """One conformance check: its name, whether it passed, and what to show if not."""

    name: str
    passed: bool
    detail: str = ""


@dataclass
class ConformanceReport:
    partner: str
    checks: list[Check] = field(default_factory=list)
    skipped: str | None = None
    """Why no check ran: the adapters the mapping needs and what to install."""
    notes: list[str] = field(default_factory=list)
    """What is not wrong but not finished (codes seen and not mapped yet): sentences."""

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)


def uninstalled_codecs(document: YamlDocument) -> list[str]:
    """Each codec the mapping names that no installed package provides, with the package
    to install when the mapping says which (``package:`` next to the codec's ``type:``).

    Read from the raw document, before the mapping is validated: an adapter's settings
    cannot be checked without the adapter."""
    data = document.data if isinstance(document.data, dict) else {}
    messages = data.get("messages")
    known = set(installed(AdapterKind.CODEC))
    missing: list[str] = []
    for message in messages.values() if isinstance(messages, dict) else []:
        codec = message.get("codec") if isinstance(message, dict) else None
        kind = codec.get("type") if isinstance(codec, dict) else None
        if not isinstance(kind, str) or kind in known:
            continue
        package = codec.get("package") if isinstance(codec, dict) else None
        text = (
            f"codec {kind!r} is not installed: install {package}"
            if isinstance(package, str)
            else f"no installed package provides codec {kind!r}"
        )
        if text not in missing:
            missing.append(text)
    return missing


def golden_lines(items: Iterable[Event | PartnerDataError]) -> list[str]:
    """The stable text of a parse: events without their recording time, rejects by place."""
    lines = []
    for item in items:
        if isinstance(item, Event):
            payload = item.model_dump(mode="json", exclude={"recorded_at"}, exclude_defaults=True)
            lines.append(json.dumps({"event": payload}, ensure_ascii=False, sort_keys=True))
        else:
            reject = {
                "line": item.location.line,
                "field": item.location.field,
                "reason": item.reason,
                "error": type(item).__name__,
            }
            lines.append(json.dumps({"reject": reject}, ensure_ascii=False, sort_keys=True))
    return lines


def _samples(folder: Path, pattern: str | None) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.endswith(PARTIAL_SUFFIXES)
        and ".expected" not in path.name
        and fnmatchcase(path.name, pattern or "*")
    )


def _compare(name: str, expected_path: Path, actual: list[str], update: bool) -> Check:
    text = "".join(line + "\n" for line in actual)
    if update:
        expected_path.write_text(text, encoding="utf-8")
        return Check(name, True, f"wrote {expected_path.name}")
    if not expected_path.exists():
        return Check(
            name,
            False,
            f"no golden file {expected_path}: run with --update to write it from today's "
            "output, read it, and keep it",
        )
    expected = expected_path.read_text(encoding="utf-8")
    if expected == text:
        return Check(name, True)
    diff = difflib.unified_diff(
        expected.splitlines(), actual, str(expected_path), "actual", lineterm=""
    )
    return Check(name, False, "\n".join(diff))


def _compare_bytes(name: str, expected_path: Path, actual: bytes, update: bool) -> Check:
    """Outbound files are compared byte for byte: encoding and line ends matter."""
    if update:
        expected_path.write_bytes(actual)
        return Check(name, True, f"wrote {expected_path.name}")
    if not expected_path.exists():
        return Check(name, False, f"no golden file {expected_path} (run with --update)")
    expected = expected_path.read_bytes()
    if expected == actual:
        return Check(name, True)
    diff = difflib.unified_diff(
        expected.decode("latin-1").splitlines(keepends=True),
        actual.decode("latin-1").splitlines(keepends=True),
        str(expected_path),
        "actual",
    )
    return Check(name, False, "".join(repr(line)[1:-1] + "\n" for line in diff))


def _inbound_checks(
    mapping: MappingSpec, name: str, spec: InboundSpec, folder: Path, update: bool
) -> tuple[list[Check], list[Path]]:
    pipeline = InboundPipeline(build_codec(spec), InboundMapping(mapping, name))
    checks = []
    samples = _samples(folder, spec.file_pattern)
    if not samples:
        checks.append(
            Check(
                f"{name}: samples",
                False,
                f"no file in {folder} matches the file_pattern {spec.file_pattern or '*'!r} of "
                f"message {name!r}: put a sample there, or correct the pattern",
            )
        )
    for sample in samples:
        try:
            items = list(
                pipeline.parse(sample.read_bytes(), source=sample.name, recorded_at=FIXED_NOW)
            )
        except HubError as error:
            checks.append(
                Check(f"{name}: {sample.name}", False, f"{sample}: cannot be read: {error.message}")
            )
            continue
        check = _compare(
            f"{name}: {sample.name}",
            sample.with_name(sample.name + ".expected.jsonl"),
            golden_lines(items),
            update,
        )
        if not check.passed:
            check.detail = f"{_summary(sample, items)}\n{check.detail}"
        checks.append(check)
    return checks, samples


def _summary(sample: Path, items: list[Event | PartnerDataError]) -> str:
    """What a sample gives today, its first rejects said in full: read before a diff."""
    events = [item for item in items if isinstance(item, Event)]
    rejects = [item for item in items if not isinstance(item, Event)]
    lines = [f"{sample}: today {len(events)} event(s), {len(rejects)} reject(s)"]
    lines += [f"  reject {reject}" for reject in rejects[:5]]
    if len(rejects) > 5:
        lines.append(f"  ... and {len(rejects) - 5} more")
    return "\n".join(lines)


def unmapped_codes(document: YamlDocument, mapping: MappingSpec) -> list[str]:
    """A sentence per message whose code table still holds codes mapped to null."""
    notes = []
    for name, spec in mapping.messages.items():
        if not isinstance(spec, InboundSpec):
            continue
        open_codes = [code for code, status in spec.codes.items() if status is None]
        if open_codes:
            line = document.line_of(("messages", name, "codes"))
            notes.append(
                f"{document.path}:{line}: messages.{name}.codes: {len(open_codes)} code(s) not "
                f"mapped yet ({', '.join(open_codes)}): give each its {spec.event_type.value} "
                "status; until then their events are stored without a status, flagged unmapped"
            )
        if not spec.codes:
            line = document.line_of(("messages", name, "codes"))
            notes.append(
                f"{document.path}:{line}: messages.{name}.codes: the code table is empty: every "
                "event is stored without a status; list the partner's codes"
            )
    return notes


def _idempotency_check(
    mapping: MappingSpec, name: str, spec: InboundSpec, samples: list[Path], parties: list[Party]
) -> Check:
    """A second read of the same files, or of the same bytes under a new name, adds nothing."""
    pipeline = InboundPipeline(build_codec(spec), InboundMapping(mapping, name))
    with tempfile.TemporaryDirectory() as scratch:
        database = Database(f"sqlite:///{Path(scratch) / 'conformance.db'}")
        try:
            upgrade(database)
            with database.transaction() as connection:
                for party in parties:
                    save_party(connection, party)
            first = second = renamed = 0
            for sample in samples:
                content = sample.read_bytes()
                runs = [
                    RawMessage(MessageRef(sample.name, len(content)), content),
                    RawMessage(MessageRef(sample.name, len(content)), content),
                    RawMessage(MessageRef("again-" + sample.name, len(content)), content),
                ]
                outcomes = [
                    ingest_message(database, "conformance", pipeline, run, now=FIXED_NOW)
                    for run in runs
                ]
                first += outcomes[0].counts.events_stored
                second += outcomes[1].counts.events_stored + (0 if outcomes[1].skipped else 1)
                renamed += outcomes[2].counts.events_stored
        finally:
            database.dispose()
    passed = first > 0 and second == 0 and renamed == 0
    detail = (
        f"first read stored {first} events; the same files again stored {second}; "
        f"the same bytes under new names stored {renamed}"
    )
    if first == 0:
        detail += ": the samples give no event to store; see their rejects above"
    elif not passed:
        detail += (
            ": two events the partner sends alike are told apart by nothing stable; map its "
            "event id to partner_event_id, or name identity targets"
        )
    return Check(f"{name}: reading again adds nothing", passed, detail)


Mutation = Callable[[dict[str, Any], str], None]


def _drop_raw_code(data: dict[str, Any], name: str) -> None:
    data["messages"][name]["fields"].pop("raw_code", None)


def _unknown_status(data: dict[str, Any], name: str) -> None:
    codes = data["messages"][name]["codes"]
    codes[next(iter(codes), "A-CODE")] = "teleported"  # a draft's table may be empty


def _unknown_zone(data: dict[str, Any], name: str) -> None:
    data["timezone"] = "Europe/Atlantis"


def _two_sources(data: dict[str, Any], name: str) -> None:
    field_spec = data["messages"][name]["fields"]["occurred_at"]
    field_spec["const"] = "2026-01-01T00:00:00Z"


MUTATIONS: dict[str, Mutation] = {
    "without raw_code": _drop_raw_code,
    "a code mapped to an unknown status": _unknown_status,
    "an unknown time zone": _unknown_zone,
    "a field with two sources": _two_sources,
}


def _broken_configuration_check(document: YamlDocument, name: str) -> Check:
    """Every mutation of a valid mapping must be refused with a located message."""
    accepted = []
    for label, mutate in MUTATIONS.items():
        data = copy.deepcopy(document.data)
        mutate(data, name)
        try:
            MappingSpec.model_validate(data)
        except ValidationError:
            continue
        accepted.append(label)
    duplicate_code_refused = _duplicate_code_refused(document.path, name)
    if not duplicate_code_refused:
        accepted.append("a code listed twice")
    passed = not accepted
    detail = "accepted: " + ", ".join(accepted) if accepted else f"{len(MUTATIONS) + 1} refused"
    return Check(f"{name}: broken configurations are refused", passed, detail)


def _duplicate_code_refused(path: Path, name: str) -> bool:
    """Append a second entry for an existing code to the file's code table."""
    text = path.read_text(encoding="utf-8")
    mapping = load_mapping(path)
    spec = mapping.inbound(name)
    code = next(iter(spec.codes), None)
    if code is None:
        return True  # no code to list twice: the table is empty
    marker = f"\n      {code}:"
    if marker not in text:
        return True  # the table is written in another style; nothing to mutate
    doubled = text.replace(marker, f"{marker} {spec.codes[code]}{marker}", 1)
    with tempfile.TemporaryDirectory() as scratch:
        copy_path = Path(scratch) / path.name
        copy_path.write_text(doubled, encoding="utf-8")
        try:
            validate(read_yaml(copy_path), MappingSpec)
        except ConfigurationError as error:
            return "listed twice" in error.message
    return False


def _outbound_checks(
    mapping: MappingSpec,
    name: str,
    spec: OutboundSpec,
    folder: Path,
    contexts: list[dict[str, Any]],
    update: bool,
) -> list[Check]:
    """Render the fixture cases; a delimited file holds them all, a document holds one."""
    outbound = OutboundMapping(mapping, name)
    codec = build_codec(spec)
    suffix = Path(outbound.file_name(now=FIXED_NOW)).suffix
    try:
        records = [outbound.render(context) for context in contexts]
    except HubError as error:
        return [Check(f"{name}: render", False, error.message)]
    if spec.codec.adapter().info.can(Capability.MANY_RECORDS):
        batches = [("", records)]
    else:
        batches = [
            (f".{context['case'].reference}", [record])
            for context, record in zip(contexts, records, strict=True)
        ]
    checks = []
    for label, batch in batches:
        try:
            content = codec.encode(batch)
        except HubError as error:
            checks.append(Check(f"{name}{label}: render", False, error.message))
            continue
        golden = folder / f"{name}{label}.expected{suffix}"
        checks.append(_compare_bytes(f"{name}{label}: rendering", golden, content, update))
        back = [item for item in codec.decode(content, source=golden.name)]
        read = [item.fields for item in back if isinstance(item, Record)]
        written = _as_written(spec, batch)
        same = len(back) == len(batch) and [dict(fields) for fields in read] == written
        checks.append(
            Check(
                f"{name}{label}: rendering reads back the same",
                same,
                "" if same else f"wrote {written!r}, read back {back!r}",
            )
        )
    if spec.answer is not None:
        checks.extend(_answer_checks(name, spec.answer, folder, update))
    return checks


ANSWER_SAMPLE = "{message}.answer.*"
"""A partner's answer to an outbound message, beside the message's golden files: e.g.
``pickup.answer.201.json``; what the mapping keeps of it is its ``.expected.json``."""


def _answer_checks(name: str, spec: AnswerSpec, folder: Path, update: bool) -> list[Check]:
    """What the mapping's ``answer`` keeps of each sample answer, against its golden file:
    an integrator sees the kept values before the first real delivery."""
    samples = _samples(folder, ANSWER_SAMPLE.format(message=name))
    if not samples:
        wanted = ANSWER_SAMPLE.format(message=name).replace("*", "<label>.<ext>")
        return [
            Check(
                f"{name}: answer",
                False,
                f"the mapping keeps values of the answer but {folder} holds no sample answer: "
                f"put the partner's answer (a 2xx body) there as {wanted}",
            )
        ]
    codec = build_answer_codec(spec)
    checks = []
    for sample in samples:
        check = f"{name}: answer {sample.name}"
        try:
            kept = answer_values(codec, spec.keep, sample.read_bytes(), source=sample.name)
        except UnreadableAnswer as problem:
            checks.append(Check(check, False, str(problem)))
            continue
        text = json.dumps({target.value: value for target, value in kept.items()}, indent=2)
        golden = sample.with_name(sample.name + ".expected.json")
        checks.append(_compare(check, golden, text.splitlines(), update))
    return checks


def _as_written(
    spec: OutboundSpec, records: list[dict[str, str | None]]
) -> list[dict[str, str | None]]:
    """Records as the codec writes them: a CSV cell guarded against spreadsheet formulas
    reads back with its leading quote, which is what the partner receives."""
    settings = spec.codec.settings
    if not getattr(settings, "formula_guard", False):
        return records
    unguarded = getattr(settings, "unguarded_columns", ())
    return [guarded_record(record, unguarded=unguarded) for record in records]


_SAMPLE_PARCEL_PREFIX = "SP"
"""Sample tracking numbers: SP, nine digits, FR (no carrier's real format)."""


def sample_contexts(cases_folder: Path, parties: list[Party]) -> list[dict[str, Any]]:
    """Canonical contexts for outbound rendering, one per fixture case.

    What the sync engine hands a mapping: the case and its retailer, the repairer it is
    routed to (the first repairer of the network with an address), a pickup from the
    customer to that repairer and the parcel it booked (``shipment``), and a two-line
    parts order from the network's first parts supplier shipped to that repairer.
    """
    by_id = {party.id: party for party in parties}
    repairer = next(
        (p for p in parties if p.role is PartyRole.REPAIRER and p.address is not None), None
    )
    supplier = next((p.id for p in parties if p.role is PartyRole.PARTS_SUPPLIER), "supplier")
    carrier = next((p.id for p in parties if p.role is PartyRole.CARRIER), None)
    contexts: list[dict[str, Any]] = []
    for path in sorted(cases_folder.glob("*.json")):
        case = Case.model_validate_json(path.read_bytes())
        customer = case.customer
        context: dict[str, Any] = {
            "case": case,
            "retailer": by_id.get(case.retailer),
            "now": FIXED_NOW,
            "sender": {"name": customer.name, "address": customer.address, "phone": customer.phone},
            "pickup": {
                "delivery": "workshop",
                "weight_kg": Decimal("3.20"),
                "reference": case.reference,
            },
        }
        if repairer is not None:
            context["shipment"] = Shipment(
                carrier=carrier,
                tracking_number=f"{_SAMPLE_PARCEL_PREFIX}{len(contexts) + 1:09d}FR",
                leg=ShipmentLeg.TO_REPAIRER,
            )
            context["repairer"] = context["ship_to"] = repairer
            context["recipient"] = {
                "name": repairer.name,
                "address": repairer.address,
                "phone": repairer.phone,
            }
            context["parts_order"] = PartsOrder(
                id=f"PO-2026-{case.reference}",
                case_reference=case.reference,
                supplier=supplier,
                ship_to=repairer.id,
                lines=(
                    PartsOrderLine(line_no=1, sku="PP-77120", quantity=1),
                    PartsOrderLine(line_no=2, sku="PP-45001", quantity=2),
                ),
                created_at=FIXED_NOW,
            )
        contexts.append(context)
    return contexts


def run_conformance(
    mapping_path: Path,
    fixtures_root: Path,
    parties: list[Party],
    *,
    update: bool = False,
) -> ConformanceReport:
    """All conformance checks of one partner's mapping against its fixture folder; none
    when an adapter it names is not installed (the report says what to install)."""
    document = read_yaml(mapping_path)
    missing = uninstalled_codecs(document)
    if missing:
        partner = document.data.get("partner") if isinstance(document.data, dict) else None
        name = partner if isinstance(partner, str) else mapping_path.stem
        return ConformanceReport(name, skipped="; ".join(missing))
    mapping = load_mapping(mapping_path)
    folder = fixtures_root / mapping.partner
    report = ConformanceReport(mapping.partner, notes=unmapped_codes(document, mapping))
    contexts = sample_contexts(fixtures_root / "cases", parties)
    for name, spec in mapping.messages.items():
        if isinstance(spec, InboundSpec):
            checks, samples = _inbound_checks(mapping, name, spec, folder, update)
            report.checks.extend(checks)
            if samples:
                report.checks.append(_idempotency_check(mapping, name, spec, samples, parties))
            report.checks.append(_broken_configuration_check(document, name))
        else:
            report.checks.extend(_outbound_checks(mapping, name, spec, folder, contexts, update))
    return report
