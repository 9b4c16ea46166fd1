"""The EDIFACT codec: UN/EDIFACT interchanges (UNB..UNZ, several UNH..UNT messages) ->
records, one per segment group, and the CONTRL acknowledgement that answers each one.

pydifact reads the syntax (UNA separators, the release character); the hub checks the
envelope's counts itself and refuses a faulty interchange whole.

Path grammar (``fields`` and ``document_fields`` of a mapping)::

    [../]TAG[qualifier]/element[/component]

- ``TAG`` a segment tag (``STS``, ``DTM``); every matching segment's value is read, and
  several are joined with a line feed (two ``FTX`` remarks).
- the qualifier, optional, is written ``TAG+Q``, ``TAG[Q]`` or ``TAG[qualifier=Q]``: it
  must equal the first component of element 1 (``DTM+334:...``, ``RFF+CU:...``).
- ``element`` and ``component`` count from 1 as the standard does: ``DTM[334]/1/2`` is
  the date of ``DTM+334:202611040800:203``; a missing component means the first.
- where a record field is read: in its group; ``UNH``/``UNT`` in its message; ``UNB``/
  ``UNZ`` in the interchange; ``../TAG`` in its message's segments before the first group
  (``../BGM/2``). Document fields are read in the whole interchange.

``Record.line`` is the position of the group's leading segment in the interchange
(UNB = 1); ``raw`` is the group's segments as partner text.

- :mod:`.spec` the settings; :mod:`.paths` the path grammar; :mod:`.interchange` reading
  and the envelope checks; :mod:`.contrl` the acknowledgement; :mod:`.codec` the codec.
"""

import warnings

from pydifact.exceptions import MissingImplementationWarning

# pydifact warns, once per segment tag, that it ships no directory to validate segments
# against; the codec checks the envelope itself and reads only what the mapping names, so
# the warning says nothing an operator can act on (it filled the demo's terminal).
warnings.filterwarnings("ignore", category=MissingImplementationWarning, module="pydifact")
