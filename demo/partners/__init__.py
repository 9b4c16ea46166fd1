"""The partners' simulated behaviour: each reacts to what the hub sent it, as its sheet says.

Every round, each partner looks at what it holds (the repair orders in its SFTP folder or
posted to its API, the purchase orders on its server, the pickups it was asked for) and
reports the next step of each piece of work in its own format: Atelier Dupont writes a
Latin-1 status export on its SFTP server, TechniService appends to its change feed,
PiècesPlus writes answer files, ColisExpress records tracking events and pushes them,
signed. What happens is the story's (demo.story); when it happens depends on the world:
a workshop cannot receive a parcel the carrier has not delivered, nor repair without the
part the supplier has not delivered.

- :mod:`.carrier` ColisExpress; :mod:`.supplier` PiècesPlus; :mod:`.workshop` Atelier
  Dupont; :mod:`.repair_network` TechniService; :mod:`.repairer` what both repairers share.
- :mod:`.world` what repairers ask of every carrier and supplier (the product arrived,
  the part came, the parcel back was collected), whoever the routing chose.
- :mod:`.common` their pace within a round and how they write files.
- :mod:`.round` all of them together, in a round's order.
"""

from demo.partners.carrier import Carrier
from demo.partners.repair_network import RepairNetwork
from demo.partners.round import Partners
from demo.partners.supplier import PartsSupplier
from demo.partners.workshop import Workshop

__all__ = ["Carrier", "Partners", "PartsSupplier", "RepairNetwork", "Workshop"]
