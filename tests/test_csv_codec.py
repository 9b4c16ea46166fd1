"""The CSV codec on the partners' real-looking files and on the quirks they exercise."""

from __future__ import annotations

import inspect
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.codecs.csv.codec import CsvCodec
from adapters.codecs.csv.dialect import CsvDialect
from adapters.codecs.csv.encoding import detect_encoding
from adapters.codecs.csv.errors import (
    CsvColumnsMismatchError,
    CsvEncodeError,
    CsvFieldCountError,
    CsvHeaderError,
    CsvQuotingError,
    CsvRowError,
    CsvUndecodableByteError,
    CsvUnencodableCharacterError,
    CsvUnterminatedQuoteError,
)
from adapters.codecs.csv.sniff import ValueFormat, sniff_dialect
from hub.errors import ConfigurationError, ModelError, NextAction, PartnerDataError
from hub.mapping.formula_guard import guarded_record
from hub.ports import Codec, DecodeResult, Record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DUPONT = FIXTURES / "atelier-dupont"
PIECES = FIXTURES / "pieces-plus"

STATUS_COLUMNS = (
    "N° dossier",
    "Réf. client",
    "Date statut",
    "Heure",
    "Code statut",
    "Libellé",
    "Commentaire",
    "N° série",
    "Montant devis TTC",
    "Réf. pièce",
)
ORDER_COLUMNS = (
    "Réf. client",
    "Enseigne",
    "Marque",
    "Modèle",
    "N° série",
    "Date achat",
    "Garantie",
    "Panne déclarée",
    "Nom client",
    "Téléphone client",
    "N° suivi aller",
)
ANSWER_COLUMNS = (
    "order_id",
    "line_no",
    "event",
    "event_time",
    "eta",
    "carrier",
    "tracking",
    "reason",
)

DUPONT_STATUS = CsvDialect(
    delimiter=";",
    encoding="auto-latin1-utf8",
    line_terminator="\r\n",
    expected_columns=STATUS_COLUMNS,
)
DUPONT_ORDERS = CsvDialect(
    delimiter=";", encoding="latin-1", line_terminator="\r\n", expected_columns=ORDER_COLUMNS
)
PIECES_ANSWERS = CsvDialect(
    delimiter=",", encoding="utf-8-sig", line_terminator="\n", expected_columns=ANSWER_COLUMNS
)


def decode(dialect: CsvDialect, content: bytes, source: str = "test.csv") -> list[DecodeResult]:
    return list(CsvCodec(dialect).decode(content, source=source))


def decode_file(dialect: CsvDialect, path: Path) -> list[DecodeResult]:
    return decode(dialect, path.read_bytes(), source=path.name)


def records(results: list[DecodeResult]) -> list[Record]:
    return [r for r in results if isinstance(r, Record)]


def errors(results: list[DecodeResult]) -> list[PartnerDataError]:
    return [r for r in results if isinstance(r, PartnerDataError)]


# --------------------------------------------------------------------------- protocol


def test_codec_satisfies_the_port() -> None:
    codec = CsvCodec(DUPONT_STATUS)
    assert isinstance(codec, Codec)
    assert inspect.isgenerator(codec.decode(b"", source="x"))


# --------------------------------------------------------------------------- Atelier Dupont


def test_status_file_every_code_and_quirk() -> None:
    results = decode_file(DUPONT_STATUS, DUPONT / "STATUTS_20261103_1415.csv")
    assert errors(results) == []
    rows = records(results)
    assert len(rows) == 14
    assert {r.fields["Code statut"] for r in rows} == {
        "REC",
        "DIA",
        "DEV",
        "ACC",
        "REF",
        "ATP",
        "REP",
        "TER",
        "IRR",
        "EXP",
        "ANN",
    }
    # The multi-line comment (lines 4-5) shifts every following line number by one.
    assert [r.line for r in rows] == [2, 3, 4, *range(6, 17)]
    assert all(tuple(r.fields) == STATUS_COLUMNS for r in rows)

    first = rows[0]
    assert first.fields == {
        "N° dossier": "AD-2026-004512",
        "Réf. client": "ME-000123",
        "Date statut": "03/11/2026",
        "Heure": "09:12",
        "Code statut": "REC",
        "Libellé": "Reçu atelier",
        "Commentaire": None,
        "N° série": "SN8841XK2",
        "Montant devis TTC": None,
        "Réf. pièce": None,
    }
    assert first.raw == "AD-2026-004512;ME-000123;03/11/2026;09:12;REC;Reçu atelier;;SN8841XK2;;"

    waiting = rows[2]
    assert waiting.fields["Code statut"] == "ATP"
    assert waiting.fields["Commentaire"] == "Commande pièce fournisseur\r\nDélai annoncé : 3 jours"
    assert waiting.fields["Réf. pièce"] == "PP-77120"
    assert waiting.raw.count("\r\n") == 1
    assert waiting.raw.endswith(";SN-LP-55120;;PP-77120")

    quote = rows[3]
    assert quote.line == 6
    assert quote.fields["Commentaire"] == "Carte mère HS; remplacement conseillé"
    assert quote.fields["Montant devis TTC"] == "149,90"

    no_reference = next(r for r in rows if r.fields["N° dossier"] == "AD-2026-004521")
    assert no_reference.fields["Réf. client"] is None
    assert no_reference.fields["N° série"] == "SN55K-00981"

    unquoted_inch = next(r for r in rows if r.fields["Code statut"] == "DIA")
    assert unquoted_inch.fields["Commentaire"] == "Ecran 55\" : pas d'image"

    refs = {r.fields["Réf. client"] for r in rows} - {None}
    assert any(ref.startswith("ME-") for ref in refs if ref)
    assert any(ref.startswith("BM-") for ref in refs if ref)
    times = [r.fields["Heure"] or "" for r in rows]
    assert times != sorted(times)  # partner does not sort; the codec keeps file order


def test_raw_texts_rebuild_the_file_byte_for_byte() -> None:
    content = (DUPONT / "STATUTS_20261103_1415.csv").read_bytes()
    rows = records(decode(DUPONT_STATUS, content))
    header = ";".join(STATUS_COLUMNS)
    rebuilt = "\r\n".join([header, *(r.raw for r in rows)]) + "\r\n"
    assert rebuilt.encode("latin-1") == content


def test_resend_file_repeats_lines_and_keeps_lf_inside_quotes() -> None:
    earlier = records(decode_file(DUPONT_STATUS, DUPONT / "STATUTS_20261103_1415.csv"))
    results = decode_file(DUPONT_STATUS, DUPONT / "STATUTS_20261103_1630.csv")
    assert errors(results) == []
    rows = records(results)
    assert len(rows) == 9  # the trailing blank line is not a record
    repeated = {r.raw for r in rows} & {r.raw for r in earlier}
    assert len(repeated) == 3
    assert [r.line for r in rows if r.raw in repeated] == [3, 5, 9]
    received = next(r for r in rows if r.fields["N° dossier"] == "AD-2026-004530")
    assert received.fields["Commentaire"] == "Accessoires reçus :\nchargeur; sacoche"
    assert received.line == 6
    assert rows[rows.index(received) + 1].line == 8
    # Whitespace is data: the mapping decides whether to strip it.
    serials = {r.fields["N° série"] for r in rows}
    assert "SN55K-00981 " in serials
    assert rows[-1].line == 11


def test_header_only_and_empty_files_yield_nothing() -> None:
    assert decode_file(DUPONT_STATUS, DUPONT / "STATUTS_20261103_1645.csv") == []
    assert decode(DUPONT_STATUS, b"") == []
    assert decode(PIECES_ANSWERS, b"\xef\xbb\xbf") == []
    assert decode(DUPONT_STATUS, b"\r\n\r\n") == []


def test_2025_utf8_drift_is_detected_and_read_like_latin1() -> None:
    content = (DUPONT / "STATUTS_20250612_0900.csv").read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert detect_encoding(content, "auto-latin1-utf8") == "utf-8"
    rows = records(decode(DUPONT_STATUS, content))
    assert len(rows) == 4
    assert rows[0].fields["Libellé"] == "Reçu atelier"
    assert rows[1].fields["Commentaire"] == "Écran noir; rétroéclairage à vérifier"
    assert rows[0].raw.startswith("AD-2025-001877")  # the BOM belongs to no field
    # The same file as the partner normally sends it reads the same.
    as_latin1 = content[3:].decode("utf-8").encode("latin-1")
    assert detect_encoding(as_latin1, "auto-latin1-utf8") == "latin-1"
    assert [r.fields for r in records(decode(DUPONT_STATUS, as_latin1))] == [r.fields for r in rows]


def test_utf8_without_bom_is_detected_too() -> None:
    content = ";".join(STATUS_COLUMNS).encode() + b"\r\n" + "x;ME-1;;;REC;Reçu;;;;\r\n".encode()
    assert detect_encoding(content, "auto-latin1-utf8") == "utf-8"
    [row] = records(decode(DUPONT_STATUS, content))
    assert row.fields["Libellé"] == "Reçu"


def test_detect_encoding_follows_the_declaration() -> None:
    accented = "Reçu".encode("latin-1")
    assert detect_encoding(b"plain ascii", "auto-latin1-utf8") == "latin-1"
    assert detect_encoding(accented, "auto-latin1-utf8") == "latin-1"
    assert detect_encoding("Reçu".encode(), "auto-latin1-utf8") == "utf-8"
    assert detect_encoding("Reçu".encode(), "latin-1") == "latin-1"
    assert detect_encoding("Reçu".encode(), "iso-8859-1") == "latin-1"
    assert detect_encoding(accented, "utf-8") == "utf-8"
    # The documented limit: Latin-1 text that is also valid UTF-8 reads as UTF-8. Real
    # French text never looks like this ("Ã©" is what UTF-8 "é" looks like in Latin-1).
    assert detect_encoding("Ã©tÃ©".encode("latin-1"), "auto-latin1-utf8") == "utf-8"


def test_dst_file_keeps_local_times_as_written() -> None:
    rows = records(decode_file(DUPONT_STATUS, DUPONT / "STATUTS_20261025_0215.csv"))
    assert [(r.fields["Date statut"], r.fields["Heure"]) for r in rows] == [
        ("25/10/2026", "01:50"),
        ("25/10/2026", "02:30"),
        ("25/10/2026", "02:05"),
        ("25/10/2026", "02:10"),
        ("29/03/2026", "01:55"),
        ("29/03/2026", "02:30"),
        ("29/03/2026", "03:05"),
    ]


def test_bad_file_rejects_bad_rows_alone() -> None:
    results = decode_file(DUPONT_STATUS, DUPONT / "STATUTS_20261104_0900_bad.csv")
    bad = errors(results)
    assert [(type(e), e.location.line) for e in bad] == [
        (CsvFieldCountError, 3),
        (CsvFieldCountError, 10),
        (CsvQuotingError, 14),
    ]
    short, long, quoting = bad
    assert isinstance(short, CsvFieldCountError)
    assert (short.expected, short.got) == (10, 9)
    assert short.reason == "expected 10 fields, got 9"
    assert short.location.source == "STATUTS_20261104_0900_bad.csv"
    assert short.location.field is None
    assert short.raw == "AD-2026-004498;ME-000117;04/11/2026;08:10;REP;En réparation;SN-LP-55120;;"
    assert short.action is NextAction.REJECT_RECORD
    assert "STATUTS_20261104_0900_bad.csv, line 3" in str(short)
    assert isinstance(long, CsvFieldCountError)
    assert (long.expected, long.got) == (10, 11)
    assert long.raw is not None
    assert "Retour client; colis 2/2" in long.raw
    assert quoting.raw is not None
    assert quoting.raw.startswith("AD-2026-004542;")
    assert isinstance(quoting, CsvRowError)

    rows = records(results)
    assert [r.line for r in rows] == [2, 4, 5, 6, 7, 8, 9, 11, 13, 15]
    # Values only the mapping can judge pass the codec untouched.
    by_line = {r.line: r.fields for r in rows}
    assert by_line[4]["Code statut"] == "XYZ"
    assert by_line[5]["Date statut"] == "31/02/2026"
    assert by_line[6]["Montant devis TTC"] == "12,3,4"
    assert by_line[7]["Réf. client"] is None
    assert by_line[7]["N° série"] is None
    assert by_line[8]["Heure"] == "25:00"
    assert by_line[11]["Commentaire"] == "Remis à Colis Express;\r\nsuivi CE123456789FR"


def test_partial_tmp_file_ends_in_an_unterminated_quote() -> None:
    results = decode_file(DUPONT_STATUS, DUPONT / "STATUTS_20261103_1415.csv.tmp")
    assert [r.line for r in records(results)] == [2, 3]
    [cut] = errors(results)
    assert isinstance(cut, CsvUnterminatedQuoteError)
    assert isinstance(cut, CsvQuotingError)
    assert cut.location.line == 4
    assert cut.raw is not None
    assert cut.raw.startswith("AD-2026-004498;ME-000117;03/11/2026;11:02;ATP")


def test_repair_orders_round_trip_byte_for_byte() -> None:
    content = (DUPONT / "ORDRES_20261103_101500.csv").read_bytes()
    codec = CsvCodec(DUPONT_ORDERS)
    rows = records(list(codec.decode(content, source="ORDRES_20261103_101500.csv")))
    assert [r.line for r in rows] == [2, 3, 4]
    assert rows[0].fields["Enseigne"] == "Maison Électro"
    assert rows[0].fields["Nom client"] == "Hélène Martin"
    assert rows[1].fields["Panne déclarée"] == "Ne charge plus; voyant batterie rouge"
    assert rows[1].fields["N° suivi aller"] is None
    assert rows[2].fields["Panne déclarée"] == "Écran 43\" fissuré, moteur s'arrête après 10 s"
    assert codec.encode([r.fields for r in rows]) == content


# --------------------------------------------------------------------------- PiècesPlus


def test_answer_file_every_event() -> None:
    results = decode_file(PIECES_ANSWERS, PIECES / "ANS_20261103101500_1.csv")
    assert errors(results) == []
    rows = records(results)
    assert len(rows) == 10
    assert [r.line for r in rows] == list(range(2, 12))
    assert tuple(rows[0].fields) == ANSWER_COLUMNS  # no BOM stuck to "order_id"
    assert {r.fields["event"] for r in rows} == {
        "ACK",
        "BACKORDER",
        "SHIPPED",
        "DELIVERED",
        "CANCELLED",
    }
    assert any(r.fields["reason"] == "REF_OBSOLETE" for r in rows)
    cancelled = next(r for r in rows if r.fields["order_id"] == "PO-2026-00016")
    assert cancelled.fields["reason"] == "Annulée à la demande du client, doublon de PO-2026-00014"
    assert [r.fields["line_no"] for r in rows if r.fields["order_id"] == "PO-2026-00018"] == [
        "1",
        "2",
        "3",
    ]
    assert (
        rows[0].raw == "PO-2026-00009,1,DELIVERED,2026-11-03T09:02:00Z,,ColisExpress,CE998877123FR,"
    )


def test_answer_file_with_bad_rows() -> None:
    results = decode_file(PIECES_ANSWERS, PIECES / "ANS_20261104090000_2.csv")
    [bad] = errors(results)
    assert isinstance(bad, CsvFieldCountError)
    assert (bad.location.line, bad.expected, bad.got) == (7, 8, 6)
    rows = records(results)
    assert len(rows) == 9
    by_line = {r.line: r.fields for r in rows}
    assert by_line[3]["event"] == "RETURNED"
    assert by_line[4]["order_id"] is None
    assert by_line[5]["event_time"] == "2026-11-04T09:43:00+01:00"
    assert by_line[6]["event_time"] == "04/11/2026 08:44"


def test_partial_part_file_is_not_taken_for_a_good_row() -> None:
    [cut] = decode_file(PIECES_ANSWERS, PIECES / "ANS_20261104093000_3.csv.part")
    assert isinstance(cut, CsvFieldCountError)
    assert (cut.location.line, cut.got) == (2, 7)


# --------------------------------------------------------------------------- inline quirks


def test_crlf_lf_and_mixed_line_ends_read_the_same() -> None:
    dialect = CsvDialect(delimiter=";", encoding="latin-1", expected_columns=("a", "b"))
    crlf = decode(dialect, b'a;b\r\n1;"x\r\ny"\r\n2;z\r\n')
    lf = decode(dialect, b'a;b\n1;"x\r\ny"\n2;z\n')
    mixed = decode(dialect, b'a;b\r\n1;"x\r\ny"\n2;z')
    for results in (crlf, lf, mixed):
        assert [(r.line, dict(r.fields)) for r in records(results)] == [
            (2, {"a": "1", "b": "x\r\ny"}),
            (4, {"a": "2", "b": "z"}),
        ]
    assert [r.raw for r in records(lf)] == ['1;"x\r\ny"', "2;z"]


def test_a_single_lines_raw_text_loses_exactly_its_own_end() -> None:
    """Each end a line may have (CRLF, LF, CR, none at the file's end) is taken off
    once, by ``decode`` and by ``decode_rows`` alike; a quoted break stays in."""
    dialect = CsvDialect(delimiter=";", encoding="latin-1", expected_columns=("a", "b"))
    content = b'a;b\r\n1;x\r\n2;y\n3;z\r4;"w\r\n"\r\n5;v'
    wanted = [(2, "1;x"), (3, "2;y"), (4, "3;z"), (5, '4;"w\r\n"'), (7, "5;v")]
    assert [(r.line, r.raw) for r in records(decode(dialect, content))] == wanted
    rows = CsvCodec(dialect).decode_rows(content, source="f.csv")
    assert rows is not None
    assert [(row[0], row[2]) for row in rows if type(row) is tuple] == wanted


def test_blank_lines_are_skipped_and_lines_still_counted() -> None:
    dialect = CsvDialect(delimiter=";", encoding="latin-1", expected_columns=("a", "b"))
    rows = records(decode(dialect, b"a;b\r\n1;2\r\n\r\n3;4\r\n\r\n\r\n"))
    assert [(r.line, r.raw) for r in rows] == [(2, "1;2"), (4, "3;4")]


def test_header_mismatch_rejects_the_whole_file() -> None:
    content = (
        "N° dossier;Réf. client;Date statut;Heure;Code;Libellé;Commentaire;N° série;"
        "Montant devis TTC;Réf. pièce;Technicien\r\nAD-1;ME-1;;;;;;;;;\r\n"
    ).encode("latin-1")
    with pytest.raises(CsvHeaderError) as caught:
        decode(DUPONT_STATUS, content, source="STATUTS_20261105_0800.csv")
    error = caught.value
    assert error.missing == ("Code statut",)
    assert error.unexpected == ("Code", "Technicien")
    assert error.duplicated == ()
    assert error.location.line == 1
    message = str(error)
    assert "STATUTS_20261105_0800.csv" in message
    assert "'Code statut'" in message
    assert "'Technicien'" in message
    assert isinstance(error, PartnerDataError)
    assert not isinstance(error, CsvRowError)


def test_duplicated_header_columns_are_rejected() -> None:
    free = CsvDialect(delimiter=",", encoding="utf-8")
    with pytest.raises(CsvHeaderError) as caught:
        decode(free, b"id,name,id\n1,a,2\n")
    assert caught.value.duplicated == ("id",)
    with pytest.raises(CsvHeaderError) as caught:
        decode(PIECES_ANSWERS, (",".join([*ANSWER_COLUMNS, "eta"]) + "\n").encode())
    assert caught.value.duplicated == ("eta",)
    assert caught.value.unexpected == ()


def test_header_with_an_unnamed_column_is_rejected() -> None:
    with pytest.raises(CsvHeaderError, match="without a name"):
        decode(CsvDialect(delimiter=";"), b"a;b;\n1;2;\n")


def test_header_order_may_change_fields_are_read_by_name() -> None:
    dialect = CsvDialect(delimiter=",", encoding="utf-8", expected_columns=("a", "b"))
    [row] = records(decode(dialect, b"b,a\n2,1\n"))
    assert row.fields == {"b": "2", "a": "1"}


def test_header_compares_accents_in_nfc() -> None:
    decomposed = "Libelle\u0301"  # 'é' as e + combining acute, as some UTF-8 tools write it
    dialect = CsvDialect(delimiter=";", encoding="utf-8", expected_columns=("Libellé",))
    [row] = records(decode(dialect, f"{decomposed}\nDevis\n".encode()))
    assert row.fields == {"Libellé": "Devis"}


def test_file_without_header() -> None:
    dialect = CsvDialect(delimiter="|", encoding="utf-8", header=False, expected_columns=("a", "b"))
    rows = records(decode(dialect, b"1|2\n3|4\n"))
    assert [(r.line, dict(r.fields)) for r in rows] == [
        (1, {"a": "1", "b": "2"}),
        (2, {"a": "3", "b": "4"}),
    ]


def test_undecodable_byte_rejects_its_row_only() -> None:
    dialect = CsvDialect(delimiter=";", encoding="utf-8", expected_columns=("a", "b"))
    content = b"a;b\n1;2\nx\xe9y;z\n3;4\n"
    results = decode(dialect, content)
    assert [r.line for r in records(results)] == [2, 4]
    [bad] = errors(results)
    assert isinstance(bad, CsvUndecodableByteError)
    assert bad.byte == 0xE9
    assert bad.byte_offset == content.index(b"\xe9")
    assert bad.location.line == 3
    assert bad.location.field == "a"
    assert "0xE9" in bad.reason
    assert str(bad.byte_offset) in bad.reason
    assert bad.raw == "x\ufffdy;z"


def test_undecodable_byte_offset_counts_bom_and_multibyte_characters() -> None:
    dialect = CsvDialect(delimiter=",", encoding="utf-8-sig", expected_columns=("a", "b"))
    content = '\ufeffa,b\né,"ç\n\xff"\n'.encode().replace("\xff".encode(), b"\xff")
    [bad] = decode(dialect, content)
    assert isinstance(bad, CsvUndecodableByteError)
    assert bad.byte_offset == content.index(b"\xff")
    assert bad.location.line == 2  # where the record starts
    assert "(line 3)" in bad.reason  # where the byte is
    assert bad.location.field == "b"


def test_undecodable_header_rejects_the_file() -> None:
    strict_utf8 = CsvDialect(delimiter=";", encoding="utf-8", expected_columns=STATUS_COLUMNS)
    with pytest.raises(CsvHeaderError, match="0xB0"):
        decode_file(strict_utf8, DUPONT / "STATUTS_20261103_1415.csv")


def test_malformed_header_quoting_rejects_the_file() -> None:
    with pytest.raises(CsvHeaderError, match="cannot be parsed"):
        decode(CsvDialect(delimiter=","), b'"a"b,c\n1,2\n')


def test_unterminated_quote_at_end_of_file() -> None:
    dialect = CsvDialect(delimiter=";", encoding="latin-1", expected_columns=("a", "b"))
    results = decode(dialect, b'a;b\r\n1;2\r\n3;"open\r\nstill open\r\n')
    assert [r.line for r in records(results)] == [2]
    [bad] = errors(results)
    assert isinstance(bad, CsvUnterminatedQuoteError)
    assert bad.location.line == 3
    assert bad.raw == '3;"open\r\nstill open'


def test_decoding_streams() -> None:
    dialect = CsvDialect(delimiter=";", encoding="latin-1", expected_columns=STATUS_COLUMNS)
    row = "AD-2026-004512;ME-000123;03/11/2026;14:05;DEV;Devis émis;;SN8841XK2;149,90;\r\n"
    content = (";".join(STATUS_COLUMNS) + "\r\n" + row * 100_000).encode("latin-1")
    tracemalloc.start()
    try:
        count = sum(1 for _ in CsvCodec(dialect).decode(content, source="big.csv"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000
    # The 7.5 MB file is already in memory; decoding must not add per-row storage.
    assert peak < 2_000_000


# --------------------------------------------------------------------------- encode


def test_encode_quotes_only_what_needs_it() -> None:
    codec = CsvCodec(
        CsvDialect(delimiter=";", encoding="latin-1", expected_columns=("a", "b", "c"))
    )
    content = codec.encode(
        [
            {"a": "plain", "b": None, "c": " spaces kept "},
            {"a": "semi;colon", "b": 'say "hi"', "c": "line\r\nbreak"},
            {"a": "lone\rcr", "b": "lone\nlf", "c": "Reçu"},
        ]
    )
    assert content == (
        b"a;b;c\r\n"
        b"plain;; spaces kept \r\n"
        b'"semi;colon";"say ""hi""";"line\r\nbreak"\r\n'
        b'"lone\rcr";"lone\nlf";Re\xe7u\r\n'
    )


def test_encode_lf_dialect_still_quotes_carriage_returns() -> None:
    codec = CsvCodec(PIECES_ANSWERS)
    record = dict.fromkeys(ANSWER_COLUMNS, None) | {"order_id": "PO-1", "reason": "a\rb, c"}
    content = codec.encode([record])
    assert content.startswith(b"\xef\xbb\xbforder_id,")
    assert content.endswith(b'PO-1,,,,,,,"a\rb, c"\n')
    [row] = records(list(codec.decode(content, source="x")))
    assert row.fields == record


def test_encode_rejects_characters_latin1_cannot_hold() -> None:
    codec = CsvCodec(DUPONT_ORDERS)
    good = dict.fromkeys(ORDER_COLUMNS, "x")
    bad = good | {"Nom client": "Łukasz Wójcik"}
    with pytest.raises(CsvUnencodableCharacterError) as caught:
        codec.encode([good, bad])
    error = caught.value
    assert (error.record_index, error.column, error.character) == (2, "Nom client", "Ł")
    assert "record 2" in str(error)
    assert "'Nom client'" in str(error)
    assert "U+0141" in str(error)
    assert isinstance(error, CsvEncodeError)
    assert isinstance(error, ModelError)


def test_encode_rejects_records_with_other_columns() -> None:
    codec = CsvCodec(DUPONT_ORDERS)
    record: dict[str, str | None] = dict.fromkeys(ORDER_COLUMNS, None)
    del record["Marque"]
    record["Couleur"] = "rouge"
    with pytest.raises(CsvColumnsMismatchError) as caught:
        codec.encode([record])
    assert caught.value.missing == ("Marque",)
    assert caught.value.unexpected == ("Couleur",)
    assert caught.value.record_index == 1


def test_encode_columns_from_first_record_and_edge_cases() -> None:
    free = CsvCodec(CsvDialect(delimiter=",", encoding="utf-8", line_terminator="\n"))
    assert free.encode([{"x": "1", "y": None}]) == b"x,y\n1,\n"
    assert free.encode([]) == b""
    assert CsvCodec(DUPONT_ORDERS).encode([]) == ";".join(ORDER_COLUMNS).encode("latin-1") + b"\r\n"
    lone = CsvCodec(CsvDialect(delimiter=",", expected_columns=("only",)))
    content = lone.encode([{"only": None}, {"only": "v"}])
    assert content == b'only\r\n""\r\nv\r\n'
    assert [r.fields for r in records(list(lone.decode(content, source="x")))] == [
        {"only": None},
        {"only": "v"},
    ]


def test_dialect_is_checked_when_built() -> None:
    with pytest.raises(ConfigurationError):
        CsvDialect(delimiter=";;")
    with pytest.raises(ConfigurationError):
        CsvDialect(delimiter=";", quotechar=";")
    with pytest.raises(ConfigurationError, match="'klingon' is not an encoding Python knows"):
        CsvDialect(encoding="klingon")
    with pytest.raises(ConfigurationError, match="not a text encoding"):
        CsvDialect(encoding="base64")
    with pytest.raises(ConfigurationError):
        CsvDialect(line_terminator="\r")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        CsvDialect(expected_columns=("a", "a"))
    with pytest.raises(ConfigurationError):
        CsvDialect(header=False)


# --------------------------------------------------------------------------- sniffing


def test_sniff_atelier_dupont_status_file() -> None:
    sniffed = sniff_dialect((DUPONT / "STATUTS_20261103_1415.csv").read_bytes())
    assert sniffed.encoding == "latin-1"
    assert sniffed.delimiter == ";"
    assert sniffed.line_terminator == "\r\n"
    assert sniffed.header == STATUS_COLUMNS
    assert (sniffed.rows_sampled, sniffed.irregular_rows) == (14, 0)
    columns = {c.name: c for c in sniffed.columns}
    date_formats = columns["Date statut"].formats
    assert date_formats[0].format is ValueFormat.DATE_DMY
    assert date_formats[0].exact
    assert columns["Heure"].formats[0].format is ValueFormat.TIME_HM
    assert columns["Montant devis TTC"].decimal_separator == ","
    assert columns["Montant devis TTC"].non_empty == 3
    assert columns["Commentaire"].formats == ()
    assert columns["Réf. client"].example == "ME-000123"
    assert sniffed.to_dialect().delimiter == ";"


def test_sniff_atelier_dupont_2025_utf8_file() -> None:
    sniffed = sniff_dialect((DUPONT / "STATUTS_20250612_0900.csv").read_bytes())
    assert sniffed.encoding == "utf-8-sig"
    assert sniffed.header == STATUS_COLUMNS
    [amount] = [c for c in sniffed.columns if c.name == "Montant devis TTC"]
    assert amount.decimal_separator == ","


def test_sniff_pieces_plus_answer_file() -> None:
    content = (PIECES / "ANS_20261103101500_1.csv").read_bytes()
    sniffed = sniff_dialect(content)
    assert sniffed.encoding == "utf-8-sig"
    assert sniffed.delimiter == ","
    assert sniffed.line_terminator == "\n"
    assert sniffed.header == ANSWER_COLUMNS
    columns = {c.name: c for c in sniffed.columns}
    assert columns["event_time"].formats[0].format is ValueFormat.DATETIME_ISO_OFFSET
    assert columns["event_time"].formats[0].exact
    assert ValueFormat.DATETIME_ISO_LOCAL not in {m.format for m in columns["event_time"].formats}
    assert columns["eta"].formats[0].format is ValueFormat.DATE_ISO
    assert columns["line_no"].formats[0].format is ValueFormat.INTEGER
    assert columns["line_no"].decimal_separator is None
    # The sniffed dialect reads the file it came from.
    rows = records(list(CsvCodec(sniffed.to_dialect()).decode(content, source="x")))
    assert len(rows) == 10


def test_sniff_counts_imperfect_values() -> None:
    sniffed = sniff_dialect((DUPONT / "STATUTS_20261104_0900_bad.csv").read_bytes())
    assert sniffed.delimiter == ";"
    assert sniffed.irregular_rows == 2
    columns = {c.name: c for c in sniffed.columns}
    [dmy] = [m for m in columns["Date statut"].formats if m.format is ValueFormat.DATE_DMY]
    # The sniffer parses leniently: the badly quoted row counts, the two short/long do not.
    assert (dmy.matched, dmy.total, dmy.exact) == (10, 11, False)
    [hm] = [m for m in columns["Heure"].formats if m.format is ValueFormat.TIME_HM]
    assert (hm.matched, hm.total) == (10, 11)


def test_sniff_truncated_sample_and_other_delimiters() -> None:
    whole = "id|libellé|prix\n1|Pièce|12.50\n2|Écran|3\n".encode()
    cut_inside_a_character = whole[: whole.index("É".encode()) + 1]
    sniffed = sniff_dialect(cut_inside_a_character)
    assert sniffed.encoding == "utf-8"
    assert sniffed.delimiter == "|"
    assert sniffed.header == ("id", "libellé", "prix")
    tabbed = sniff_dialect(b"a\tb\n1\t2,5\n3\t4\n")
    assert tabbed.delimiter == "\t"
    assert tabbed.ascii_only
    assert {c.name: c.decimal_separator for c in tabbed.columns} == {"a": None, "b": ","}


# --------------------------------------------------------------------------- property

latin1_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=20)
tricky_text = st.one_of(
    latin1_text,
    st.lists(
        st.sampled_from([";", ",", '"', "'", "|", "\t", "\r", "\n", "\r\n", " ", "é", "°", "x"]),
        max_size=8,
    ).map("".join),
)


ROUND_TRIP_DIALECTS = [
    CsvDialect(delimiter=";", encoding="latin-1", line_terminator="\r\n"),
    CsvDialect(delimiter=",", encoding="utf-8-sig", line_terminator="\n"),
    CsvDialect(delimiter="\t", encoding="utf-8", line_terminator="\n"),
    CsvDialect(delimiter="|", quotechar="'", encoding="iso-8859-1", line_terminator="\n"),
]


@st.composite
def tables(draw: st.DrawFn) -> tuple[CsvDialect, list[dict[str, str | None]]]:
    base = draw(st.sampled_from(ROUND_TRIP_DIALECTS))
    columns = draw(st.lists(tricky_text.filter(bool), min_size=1, max_size=5, unique=True))
    dialect = replace(base, expected_columns=tuple(columns), formula_guard=draw(st.booleans()))
    rows = draw(
        st.lists(
            st.fixed_dictionaries({c: st.one_of(st.none(), tricky_text) for c in columns}),
            max_size=8,
        )
    )
    return dialect, rows


@settings(max_examples=300, deadline=None)
@given(tables())
def test_any_rows_round_trip(table: tuple[CsvDialect, list[dict[str, str | None]]]) -> None:
    dialect, rows = table
    codec = CsvCodec(dialect)
    decoded = list(codec.decode(codec.encode(rows), source="prop.csv"))
    assert errors(decoded) == []
    # What was written reads back: with the guard on, formula-like cells carry their '.
    written = [guarded_record(row) for row in rows] if dialect.formula_guard else rows
    expected = [{c: (v or None) for c, v in row.items()} for row in written]
    assert [dict(r.fields) for r in records(decoded)] == expected


CP1252 = CsvDialect(delimiter=";", encoding="cp1252", expected_columns=("ref", "label"))


def test_any_encoding_python_knows_is_read_strictly() -> None:
    """cp1252's euro sign and curly quotes come through; 0x81, which cp1252 leaves
    undefined, rejects its row alone and says which byte and where."""
    content = "ref;label\r\nA1;Réparé 12 €\r\n".encode("cp1252")
    content += b"A2;Pi\x81ce\r\n" + "A3;“OK”\r\n".encode("cp1252")
    results = list(CsvCodec(CP1252).decode(content, source="f.csv"))
    assert [r.fields for r in records(results)] == [
        {"ref": "A1", "label": "Réparé 12 €"},
        {"ref": "A3", "label": "“OK”"},
    ]
    [error] = [r for r in results if isinstance(r, CsvUndecodableByteError)]
    assert str(error) == (
        "f.csv, line 3, field 'label': byte 0x81 at byte offset 32 (line 3) is not valid cp1252"
    )
    assert (error.location.line, error.location.field) == (3, "label")
    sixteen = CsvDialect(delimiter=";", encoding="iso-8859-15", expected_columns=("ref", "label"))
    latin9 = "ref;label\nB1;Œuvre 5 €\n".encode("iso-8859-15")
    assert [r.fields for r in records(list(CsvCodec(sixteen).decode(latin9, source="g")))] == [
        {"ref": "B1", "label": "Œuvre 5 €"}
    ]


def test_utf16_files_are_read_and_a_broken_one_refused_whole() -> None:
    dialect = CsvDialect(delimiter="\t", encoding="utf-16", expected_columns=("ref", "label"))
    codec = CsvCodec(dialect)
    content = "ref\tlabel\r\nC1\tÉcran\r\n".encode("utf-16")
    assert [r.fields for r in records(list(codec.decode(content, source="h")))] == [
        {"ref": "C1", "label": "Écran"}
    ]
    with pytest.raises(CsvHeaderError, match=r"not valid utf-16 .*the whole file is rejected"):
        list(codec.decode(content + b"\x00", source="h"))


def test_the_hub_writes_in_the_partners_encoding_or_says_which_character_it_cannot() -> None:
    codec = CsvCodec(CP1252)
    assert codec.encode([{"ref": "A1", "label": "12 € — réparé"}]) == (
        "ref;label\r\nA1;12 € — réparé\r\n".encode("cp1252")
    )
    with pytest.raises(CsvUnencodableCharacterError, match="cp1252"):
        codec.encode([{"ref": "A1", "label": "Łódź"}])
