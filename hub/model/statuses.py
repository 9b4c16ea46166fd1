"""Canonical statuses and the labels a retailer can show its customer.

Labels live beside the status so every part of the hub (feed, console, webhooks) shows
the same words. The case order is the usual path of a repair; it breaks ties between
events stamped with the same instant, never replaces time ordering. An event's type,
which picks the status set its status belongs to, lives here too: no pydantic, so the
rules that read stored rows (hub.model.timeline, hub.sla) need no model class.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Label:
    """A short customer-facing label in French and English."""

    fr: str
    en: str


class CaseStatus(StrEnum):
    """Where a case stands, from the retailer's point of view."""

    CREATED = "created"
    PICKUP_REQUESTED = "pickup_requested"
    IN_TRANSIT_TO_REPAIRER = "in_transit_to_repairer"
    RECEIVED = "received"
    VISIT_SCHEDULED = "visit_scheduled"
    TECHNICIAN_ON_SITE = "technician_on_site"
    DIAGNOSING = "diagnosing"
    QUOTE_PENDING = "quote_pending"
    WAITING_PARTS = "waiting_parts"
    IN_REPAIR = "in_repair"
    REPAIRED = "repaired"
    NOT_REPAIRABLE = "not_repairable"
    RETURN_IN_TRANSIT = "return_in_transit"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    CLOSED = "closed"
    # Off the main path.
    QUOTE_DECLINED = "quote_declined"
    EXCHANGED = "exchanged"
    REFUNDED = "refunded"
    CREDIT_NOTE_ISSUED = "credit_note_issued"
    CANCELLED = "cancelled"
    ON_HOLD = "on_hold"

    @property
    def label(self) -> Label:
        return CASE_STATUS_LABELS[self]

    @property
    def rank(self) -> int:
        """Position in the usual path; off-path statuses come after it."""
        return _CASE_ORDER[self]

    @property
    def is_final(self) -> bool:
        return self in FINAL_CASE_STATUSES


class ShipmentStatus(StrEnum):
    """A parcel's tracking status, in the carriers' common set."""

    INFO_RECEIVED = "info_received"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED_ATTEMPT = "failed_attempt"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    EXPIRED = "expired"
    RETURNED_TO_SENDER = "returned_to_sender"

    @property
    def label(self) -> Label:
        return SHIPMENT_STATUS_LABELS[self]

    @property
    def rank(self) -> int:
        return _SHIPMENT_ORDER[self]


class PartsOrderStatus(StrEnum):
    """A spare-parts order line's status at the supplier."""

    PLACED = "placed"
    ACKNOWLEDGED = "acknowledged"
    BACKORDERED = "backordered"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def label(self) -> Label:
        return PARTS_ORDER_STATUS_LABELS[self]

    @property
    def rank(self) -> int:
        return _PARTS_ORDER[self]


class ServiceLevelStatus(StrEnum):
    """What the hub says about a case's service level: a step missed its deadline."""

    BREACHED = "breached"

    @property
    def label(self) -> Label:
        return SERVICE_LEVEL_STATUS_LABELS[self]

    @property
    def rank(self) -> int:
        return _SERVICE_LEVEL_ORDER[self]


class CaseRecordStatus(StrEnum):
    """What happened to the case's own record (not to the product): the retailer
    corrected it, or the customer's personal data was erased. Kept on the timeline so
    that who changed what, and when, is known."""

    CORRECTED = "corrected"
    PERSONAL_DATA_ERASED = "personal_data_erased"
    """The customer's personal data was erased (GDPR); the case's facts stay."""

    @property
    def label(self) -> Label:
        return CASE_RECORD_STATUS_LABELS[self]

    @property
    def rank(self) -> int:
        return _CASE_RECORD_ORDER[self]


CASE_STATUS_LABELS: dict[CaseStatus, Label] = {
    CaseStatus.CREATED: Label("Dossier ouvert", "Case opened"),
    CaseStatus.PICKUP_REQUESTED: Label("Enlèvement demandé", "Pickup requested"),
    CaseStatus.IN_TRANSIT_TO_REPAIRER: Label(
        "En route vers l'atelier", "On its way to the workshop"
    ),
    CaseStatus.RECEIVED: Label("Reçu à l'atelier", "Received at the workshop"),
    CaseStatus.VISIT_SCHEDULED: Label("Intervention planifiée", "Home visit scheduled"),
    CaseStatus.TECHNICIAN_ON_SITE: Label("Technicien sur place", "Technician on site"),
    CaseStatus.DIAGNOSING: Label("Diagnostic en cours", "Diagnosis in progress"),
    CaseStatus.QUOTE_PENDING: Label("Devis en attente de réponse", "Quote awaiting your answer"),
    CaseStatus.WAITING_PARTS: Label("En attente de pièce", "Waiting for a part"),
    CaseStatus.IN_REPAIR: Label("En réparation", "Being repaired"),
    CaseStatus.REPAIRED: Label("Réparé", "Repaired"),
    CaseStatus.NOT_REPAIRABLE: Label("Irréparable", "Cannot be repaired"),
    CaseStatus.RETURN_IN_TRANSIT: Label("Retour en cours de livraison", "On its way back"),
    CaseStatus.READY_FOR_PICKUP: Label("Disponible au retrait", "Ready for pickup"),
    CaseStatus.DELIVERED: Label("Livré", "Delivered"),
    CaseStatus.CLOSED: Label("Dossier clôturé", "Case closed"),
    CaseStatus.QUOTE_DECLINED: Label("Devis refusé", "Quote declined"),
    CaseStatus.EXCHANGED: Label("Produit échangé", "Product exchanged"),
    CaseStatus.REFUNDED: Label("Remboursé", "Refunded"),
    CaseStatus.CREDIT_NOTE_ISSUED: Label("Avoir émis", "Credit note issued"),
    CaseStatus.CANCELLED: Label("Dossier annulé", "Case cancelled"),
    CaseStatus.ON_HOLD: Label("En attente de décision", "On hold, awaiting a decision"),
}

SHIPMENT_STATUS_LABELS: dict[ShipmentStatus, Label] = {
    ShipmentStatus.INFO_RECEIVED: Label("Étiquette créée", "Label created"),
    ShipmentStatus.PICKED_UP: Label("Colis pris en charge", "Picked up"),
    ShipmentStatus.IN_TRANSIT: Label("En cours d'acheminement", "In transit"),
    ShipmentStatus.OUT_FOR_DELIVERY: Label("En cours de livraison", "Out for delivery"),
    ShipmentStatus.FAILED_ATTEMPT: Label("Destinataire absent, avisé", "Delivery attempted"),
    ShipmentStatus.AVAILABLE_FOR_PICKUP: Label("Disponible en point relais", "At the relay point"),
    ShipmentStatus.DELIVERED: Label("Livré", "Delivered"),
    ShipmentStatus.EXCEPTION: Label("Incident de livraison", "Delivery problem"),
    ShipmentStatus.EXPIRED: Label(
        "Délai de retrait dépassé, retour en cours", "Not collected in time, going back"
    ),
    ShipmentStatus.RETURNED_TO_SENDER: Label("Retourné à l'expéditeur", "Returned to sender"),
}

PARTS_ORDER_STATUS_LABELS: dict[PartsOrderStatus, Label] = {
    PartsOrderStatus.PLACED: Label("Pièce commandée", "Part ordered"),
    PartsOrderStatus.ACKNOWLEDGED: Label("Commande de pièce confirmée", "Part order confirmed"),
    PartsOrderStatus.BACKORDERED: Label("Pièce en réapprovisionnement", "Part on backorder"),
    PartsOrderStatus.SHIPPED: Label("Pièce expédiée", "Part shipped"),
    PartsOrderStatus.DELIVERED: Label("Pièce livrée à l'atelier", "Part delivered"),
    PartsOrderStatus.CANCELLED: Label("Commande de pièce annulée", "Part order cancelled"),
}

SERVICE_LEVEL_STATUS_LABELS: dict[ServiceLevelStatus, Label] = {
    ServiceLevelStatus.BREACHED: Label("Délai de service dépassé", "Service deadline missed"),
}

CASE_RECORD_STATUS_LABELS: dict[CaseRecordStatus, Label] = {
    CaseRecordStatus.CORRECTED: Label("Dossier corrigé", "Case corrected"),
    CaseRecordStatus.PERSONAL_DATA_ERASED: Label(
        "Données personnelles effacées", "Customer's personal data erased"
    ),
}

FINAL_CASE_STATUSES: frozenset[CaseStatus] = frozenset(
    {
        CaseStatus.CLOSED,
        CaseStatus.CANCELLED,
        CaseStatus.EXCHANGED,
        CaseStatus.REFUNDED,
        CaseStatus.CREDIT_NOTE_ISSUED,
    }
)

_CASE_ORDER = {status: index for index, status in enumerate(CaseStatus)}
_SHIPMENT_ORDER = {status: index for index, status in enumerate(ShipmentStatus)}
_PARTS_ORDER = {status: index for index, status in enumerate(PartsOrderStatus)}
_SERVICE_LEVEL_ORDER = {status: index for index, status in enumerate(ServiceLevelStatus)}
_CASE_RECORD_ORDER = {status: index for index, status in enumerate(CaseRecordStatus)}

CASE_STATUS_RANKS: dict[str, int] = {status.value: rank for status, rank in _CASE_ORDER.items()}
"""A case status's rank by its stored text: the store reads statuses as text, and
``CaseStatus(text).rank`` (the enum's call, then a property) cost about 1 us a read (issue
17)."""


class EventType(StrEnum):
    """What an event is about; it decides which status set applies."""

    CASE_STATUS = "case_status"
    SHIPMENT_STATUS = "shipment_status"
    PARTS_ORDER_STATUS = "parts_order_status"
    SERVICE_LEVEL = "service_level"
    """The hub's own word on a case's service level (a step past its deadline)."""
    CASE_RECORD = "case_record"
    """The case's own record changed (the retailer corrected the customer's contact)."""


AnyStatus = CaseStatus | ShipmentStatus | PartsOrderStatus | ServiceLevelStatus | CaseRecordStatus

STATUS_SETS: dict[
    EventType,
    type[CaseStatus]
    | type[ShipmentStatus]
    | type[PartsOrderStatus]
    | type[ServiceLevelStatus]
    | type[CaseRecordStatus],
] = {
    EventType.CASE_STATUS: CaseStatus,
    EventType.SHIPMENT_STATUS: ShipmentStatus,
    EventType.PARTS_ORDER_STATUS: PartsOrderStatus,
    EventType.SERVICE_LEVEL: ServiceLevelStatus,
    EventType.CASE_RECORD: CaseRecordStatus,
}
"""The status set each event type's status belongs to ('delivered' is in three)."""
