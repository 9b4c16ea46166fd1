"""The XML codec: partner XML documents <-> records, hostile input refused before it costs
anything.

- :mod:`.guard` the input guard: size, DOCTYPE and entities, depth, a locked-down parser.
- :mod:`.paths` the subset of XPath walked directly and written.
- :mod:`.reader` a record's fields by the mapping's paths.
- :mod:`.schema` the partner's XSD, handed over as bytes, and its errors by record.
- :mod:`.writer` one document per record.
- :mod:`.codec` the codec composing them, and the ``xml`` entry point.

Path conventions (the mapping's ``record``, ``fields`` and ``document_fields``):

- ``record`` is an XPath from the document: ``/ts:Changes/ts:Change`` (each element is a
  record) or ``ts:RepairOrder`` (the root element; a relative path starts at the document).
- ``fields`` are XPath relative to the record element. ``ts:RepairId`` gives the element's
  text content (all text inside it, as XPath's ``string()``, kept as is: the mapping
  strips); ``ts:Status/@code`` an attribute; ``@id`` an attribute of the record element
  itself. Nothing found gives None; an empty element or attribute gives ``""``. A path
  matching several nodes joins their values with a line feed (``ts:Part/@ref`` on three
  parts gives ``"PP-1\\nPP-2\\nPP-3"``).
- A repeated child is addressed one by one with the placeholder ``[{n}]`` on one step:
  ``pp:Line[{n}]/@sku`` reads the ``sku`` of every ``pp:Line`` of the record into the keys
  ``line_sku.1``, ``line_sku.2``... (the field name, a dot, the 1-based position), and
  writing takes the same keys back. Every position of every field of a line appears, None
  where the line lacks it.
- ``document_fields`` are XPath from the root element (``/ts:Changes/@next`` or ``@next``),
  read once per document and copied into every record.
- ``namespaces`` maps the prefixes the paths use to URIs. The extra key ``""`` names the
  URI to write as the default namespace (``xmlns="..."``, unprefixed tags) when encoding;
  reading ignores it (XPath has no default namespace).
"""
