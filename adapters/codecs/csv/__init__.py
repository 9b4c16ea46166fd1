"""The CSV codec: partner CSV bytes <-> records, one bad row never stopping the others.

- :mod:`.dialect` how one partner writes CSV, checked when a mapping is loaded.
- :mod:`.encoding` the encoding a file is really in, raw text fit to show, line offsets.
- :mod:`.errors` a row that cannot be read, a header that is not the partner's, a record
  that cannot be written.
- :mod:`.reader` rows as records with their line and raw text, the strict header check.
- :mod:`.writer` records as a file in the partner's dialect, through the formula guard.
- :mod:`.trailer` a trailer line told apart from data rows, and the file controls it
  vouches for (run over the whole file before any row goes out).
- :mod:`.sniff` a dialect and value formats guessed from a sample, for new adapters.
- :mod:`.spec` the ``csv`` codec's settings in a mapping.
- :mod:`.codec` the codec composing them, and the ``csv`` entry point.
"""
