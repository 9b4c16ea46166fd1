"""The JSON codec: partner JSON documents <-> records, with one small path language both ways.

JSON partners (a carrier's REST API and its pushes) send objects, not lines, so records
and their fields are found by path. The language is deliberately tiny, enough to read
any partner document and to write the ones the hub sends:

- ``$`` is the root (of the document for ``record`` and ``document_fields``, of the
  record for ``fields``); ``.name`` a key (``["odd key"]`` for keys with dots or spaces);
  ``[*]`` every element of a list; ``[0]`` one element (``[-1]`` the last, reading only).
  ``$.events[*]`` makes each event a record; ``$.location.city`` is a field in it.
- Values are text: strings as they are, numbers as the partner wrote them (``212.00``
  stays ``"212.00"``, never ``212.0``), booleans ``"true"``/``"false"``, objects and lists
  as compact JSON text, null or missing as None. A path matching several values (through
  ``[*]``) joins them with a line feed.
- ``[{n}]`` on one step reads a list one element at a time into numbered keys: with
  ``"line_sku": "$.lines[{n}].sku"`` a record gets ``line_sku.1``, ``line_sku.2``... (the
  1-based position), and writing takes the same keys back.
- A type suffix says what to write, since record values are all text:
  ``$.parcel.weight_kg:number`` writes the JSON number ``3.2`` from ``"3.2"``;
  ``:boolean`` writes ``true``/``false``; ``:json`` inserts the value as parsed JSON;
  ``:string`` (the default) a string. Reading ignores the suffix.

``Record.line`` is the record's 1-based position among the records the document gives
(JSON has no useful lines); ``raw`` is the record as compact JSON.

- :mod:`.spec` the ``json`` codec's settings in a mapping.
- :mod:`.values` JSON values kept as the partner wrote them, and as record text.
- :mod:`.paths` the path language: parsed, and walked to the values it reaches.
- :mod:`.document` a partner document loaded, or refused (too large, malformed, too deep).
- :mod:`.reader` a record's fields, and a document's own, by the mapping's paths.
- :mod:`.writer` one document built from one record, values typed by their paths.
- :mod:`.codec` the codec composing them, its errors, and the ``json`` entry point.
"""
