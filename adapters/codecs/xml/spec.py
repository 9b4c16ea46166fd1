"""What a mapping says of the partner's XML: the ``xml`` codec's settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from hub.ports import AttachedFile

__all__ = ["XmlCodecSpec"]


class XmlCodecSpec(BaseModel):
    """Where records and their fields sit in the partner's XML documents.

    The same paths serve both ways: reading picks values out, writing builds the
    elements and attributes they name, in the order given.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, title="xml codec")

    namespaces: dict[str, str] = Field(
        default_factory=dict, description="Prefix -> namespace URI used in the paths."
    )
    record: str = Field(
        description="XPath from the document to each record element, e.g. "
        "/ts:Changes/ts:Change; when writing, the root element, e.g. ts:RepairOrder."
    )
    fields: dict[str, str] = Field(
        description="Field name -> XPath relative to the record: an element (its text) or "
        "an attribute, e.g. ts:RepairId, ts:Status/@code, ts:Product/@brand."
    )
    document_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Field name -> XPath from the document root, read once per document "
        "(e.g. a page's next token: /ts:Changes/@next).",
    )
    xsd: Annotated[str | None, AttachedFile("xsd_document")] = Field(
        default=None, description="XSD file (relative to the mapping) that documents must match."
    )
    xsd_document: SkipJsonSchema[bytes | None] = Field(default=None, exclude=True, repr=False)
    """The content of ``xsd``, read by the mapping loader: codecs do no I/O, so the XSD
    reaches the codec as bytes. Never written in a mapping file."""
    max_bytes: int = Field(default=10_000_000, ge=1, description="Larger documents are refused.")
    max_depth: int = Field(default=64, ge=2, description="Deeper nesting is refused.")

    @field_validator("xsd_document")
    @classmethod
    def _xsd_read_by_the_loader(cls, value: bytes | None) -> bytes | None:
        if value is not None:
            raise ValueError("xsd_document is read from the xsd file, not written in a mapping")
        return value
