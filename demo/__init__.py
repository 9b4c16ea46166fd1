"""The demo network (`hub demo`): the hub and every simulated partner on one machine.

- :mod:`demo.network` writes the demo's own network file (loopback ports, pinned host
  keys) and puts its secrets in the process environment, never on disk.
- :mod:`demo.story` the fifty cases and the path each one takes.
- :mod:`demo.partners` the partners' simulated behaviour, each following its sheet, one
  module per partner.
- :mod:`demo.retailers` Maison Électro's webhook receiver and BricoMarket's feed reader.
- :mod:`demo.summary` what every party ended with, and whether they all agree.
- :mod:`demo.run` starts it all and drives the story, at full speed or live.
"""
