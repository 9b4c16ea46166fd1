"""The fixed-width codec: partner fixed-width files <-> records.

- :mod:`.spec` the ``fixed_width`` codec's settings: record types, fields by position.
- :mod:`.fields` one field read and written: implied decimals, signs, padding.
- :mod:`.reader` lines as records, children attached, file controls checked first.
- :mod:`.writer` records as a file in the partner's layout.
- :mod:`.errors` a line that cannot be read, a record that cannot be written.
- :mod:`.codec` the codec composing them, and the ``fixed_width`` entry point.
"""
