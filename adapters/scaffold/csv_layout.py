"""A delimited sample: encoding, delimiter, line ends and header sniffed, then read by the
``csv`` codec with them."""

from __future__ import annotations

from adapters.codecs.csv.codec import CsvCodec
from adapters.codecs.csv.sniff import ValueFormat, sniff_dialect
from adapters.scaffold.layout import Layout, records_of

__all__ = ["csv_layout"]


def csv_layout(sample: bytes, sample_name: str) -> Layout:
    """The csv codec block for files like ``sample``, and the rows it reads."""
    sniffed = sniff_dialect(sample)
    records, rejects = records_of(CsvCodec(sniffed.to_dialect()).decode(sample, source=sample_name))
    codec = {
        "type": "csv",
        "encoding": sniffed.encoding,
        "delimiter": sniffed.delimiter,
        "line_terminator": "\n" if sniffed.line_terminator == "\n" else "\r\n",
    }
    layout = Layout(
        codec=codec,
        records=records,
        order=list(sniffed.header),
        header=list(sniffed.header),
        rejects=rejects,
        about=[
            f"Delimiter {sniffed.delimiter!r}, encoding {sniffed.encoding}, "
            f"{sniffed.rows_sampled} row(s) read under a header of {len(sniffed.header)} columns."
        ],
    )
    for column in sniffed.columns:
        decimal_comma = any(
            m.format is ValueFormat.DECIMAL_COMMA and m.exact and m.total for m in column.formats
        )
        integers = any(m.format is ValueFormat.INTEGER and m.exact for m in column.formats)
        if column.decimal_separator == "," and decimal_comma and not integers:
            quoted = '"' + column.name.replace("\\", "\\\\").replace('"', '\\"') + '"'
            layout.extra_fields.append(
                f'      quote_amount: {{column: {quoted}, decimal: ","}}   # guess: decimal comma'
            )
            break
    if sniffed.irregular_rows:
        layout.to_do.append(
            f"{sniffed.irregular_rows} row(s) of the sample have another number of cells "
            "than the header: see the rejects of `hub adapters test`"
        )
    return layout
