"""CSV cells a spreadsheet would run as formulas reach partners as text (OWASP's rule).

The workshop opens the hub's order files in a spreadsheet: a customer's fault typed as
`=HYPERLINK(...)` must not become a live link there. Checked through the real outbound
path (mapping, codec, transport), with the per-mapping and per-column opt-outs.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.codecs.csv.codec import CsvCodec
from adapters.codecs.csv.dialect import CsvDialect
from hub.errors import ConfigurationError
from hub.mapping.formula_guard import guarded
from hub.model.case import Case
from hub.partners.conformance import run_conformance, sample_contexts
from hub.partners.connectors import Connector, open_network
from hub.partners.outbound import render, render_and_deliver
from hub.ports import DecodeResult, Record
from tests.network_files import PARTIES, ROOT, network_head

MAPPING = ROOT / "mappings" / "atelier-dupont.yaml"
CONTEXTS = {c["case"].reference: c for c in sample_contexts(ROOT / "fixtures" / "cases", PARTIES)}
GUARD_LINE = re.compile(r"^ +formula_guard: true\b.*\n", re.MULTILINE)
FAULT = "Panne déclarée"
NAME = "Nom client"
HYPERLINK = '=HYPERLINK("http://evil.example/","x")'


def workshop(tmp_path: Path, guard: str | None = None) -> Connector:
    """The workshop's order connector on a local folder; `guard` replaces the codec's
    formula_guard line of the real mapping."""
    text = MAPPING.read_text(encoding="utf-8")
    if guard is not None:
        text, found = GUARD_LINE.subn(guard, text)
        assert found == 1
    mapping = tmp_path / "atelier-dupont.yaml"
    mapping.write_text(text, encoding="utf-8")
    drop = tmp_path / "workshop"
    drop.mkdir()
    network = tmp_path / "connectors.yaml"
    network.write_text(
        f"""
{network_head()}connectors:
  - name: workshop-orders
    partner: atelier-dupont
    mapping: {mapping}
    message: repair_order
    transport: {{type: local-dir, path: "{drop}"}}
""",
        encoding="utf-8",
    )
    return open_network(network).connector("workshop-orders")


def context_with(*, fault: str, name: str | None = None, validate: bool = True) -> dict[str, Any]:
    """A fixture case whose customer typed `fault` (and `name`).

    `validate=False` skips the model's checks, which strip surrounding whitespace: it
    stands for a value that reached the canonical data some other way, since the codec
    must not rely on the model to keep a leading tab or CR out.
    """
    context = dict(CONTEXTS["ME-000123"])
    case: Case = context["case"]
    customer = case.customer.model_copy(update={"name": name}) if name else case.customer
    if validate:
        document = case.model_dump(mode="json")
        document["fault"] = fault
        document["customer"] = customer.model_dump(mode="json")
        context["case"] = Case.model_validate(document)
    else:
        context["case"] = case.model_copy(update={"fault": fault, "customer": customer})
    return context


def fields(item: DecodeResult) -> dict[str, str | None]:
    assert isinstance(item, Record), item
    return dict(item.fields)


def cells(content: bytes) -> list[dict[str, str]]:
    """The file as the workshop's spreadsheet splits it into cells (Latin-1, `;`)."""
    reader = csv.DictReader(io.StringIO(content.decode("latin-1"), newline=""), delimiter=";")
    return list(reader)


@pytest.mark.parametrize(
    "fault",
    [
        HYPERLINK,
        '+HYPERLINK("http://evil.example/","x")',
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+9)*cmd|' /C calc'!A0",
    ],
)
def test_a_fault_written_as_a_formula_reaches_the_workshop_as_text(
    tmp_path: Path, fault: str
) -> None:
    connector = workshop(tmp_path)
    receipt = render_and_deliver(connector, [context_with(fault=fault)], identifier="one")
    assert receipt.already_known is False
    (written,) = (tmp_path / "workshop").iterdir()
    (row,) = cells(written.read_bytes())
    assert row[FAULT] == "'" + fault
    assert row["Réf. client"] == "ME-000123", "ordinary cells are untouched"


@pytest.mark.parametrize("lead", ["\t", "\r"])
def test_a_leading_tab_or_carriage_return_is_neutralised_too(tmp_path: Path, lead: str) -> None:
    context = context_with(fault=lead + HYPERLINK, validate=False)
    message = render(workshop(tmp_path), [context], identifier="one")
    (row,) = cells(message.content)
    assert row[FAULT] == "'" + lead + HYPERLINK


def test_plain_numbers_are_not_formulas_and_stay_as_rendered(tmp_path: Path) -> None:
    message = render(workshop(tmp_path), [CONTEXTS["ME-000123"]], identifier="one")
    (row,) = cells(message.content)
    assert row["Téléphone client"] == "+33612345678"
    for number in ("-12.50", "-12,50", "+3", "-0"):
        assert guarded(number) == number
    for formula in ("-1+2", "+33 6 12", "-12.50.1", "-", "=1", "-١٢"):
        assert guarded(formula) == "'" + formula


def test_a_mapping_can_turn_the_guard_off_for_a_partner_needing_raw_values(
    tmp_path: Path,
) -> None:
    connector = workshop(tmp_path, "      formula_guard: false\n")
    message = render(connector, [context_with(fault=HYPERLINK)], identifier="one")
    (row,) = cells(message.content)
    assert row[FAULT] == HYPERLINK


def test_a_mapping_can_leave_chosen_columns_raw_and_guard_the_others(tmp_path: Path) -> None:
    connector = workshop(tmp_path, f'      unguarded_columns: ["{FAULT}"]\n')  # guard on by default
    context = context_with(fault="-REF-7", name="=1+1")
    message = render(connector, [context], identifier="one")
    (row,) = cells(message.content)
    assert row[FAULT] == "-REF-7"
    assert row[NAME] == "'=1+1"


def test_contradictory_or_unknown_guard_settings_are_refused(tmp_path: Path) -> None:
    both = tmp_path / "both"
    both.mkdir()
    with pytest.raises(ConfigurationError, match="unguarded_columns needs formula_guard"):
        workshop(both, f'      formula_guard: false\n      unguarded_columns: ["{FAULT}"]\n')
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    with pytest.raises(ConfigurationError, match="columns this message does not have: 'Montant'"):
        workshop(unknown, '      unguarded_columns: ["Montant"]\n')


def test_reading_a_partner_file_keeps_its_text_exactly() -> None:
    codec = CsvCodec(CsvDialect(delimiter=";"))
    (record,) = codec.decode(b"ref;note\nAD-1;=1+1\n", source="in.csv")
    assert fields(record) == {"ref": "AD-1", "note": "=1+1"}


def test_the_codec_guards_data_cells_and_quotes_them_as_usual() -> None:
    codec = CsvCodec(CsvDialect(delimiter=";"))
    content = codec.encode([{"-ref": "=A1;B1", "note": '@x"y'}, {"-ref": None, "note": "\r=1"}])
    # The header is the mapping's own text; the cells are guarded, then quoted as usual.
    assert content == b'-ref;note\r\n"\'=A1;B1";"\'@x""y"\r\n;"\'\r=1"\r\n'
    back = [fields(r) for r in codec.decode(content, source="out.csv")]
    assert back == [{"-ref": "'=A1;B1", "note": "'@x\"y"}, {"-ref": None, "note": "'\r=1"}]


def test_conformance_reads_a_guarded_rendering_back_as_written(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    case = fixtures / "cases" / "ME-000123.json"
    case.write_text(
        case.read_text(encoding="utf-8").replace("Ne chauffe plus, affiche E3", "=1+1"), "utf-8"
    )
    report = run_conformance(MAPPING, fixtures, PARTIES, update=True)
    failures = [f"{c.name}: {c.detail}" for c in report.checks if not c.passed]
    assert failures == []
    golden = (fixtures / "atelier-dupont" / "repair_order.expected.csv").read_bytes()
    assert b";'=1+1;" in golden
