"""The ``faults`` rules of an HTTP connector as connectors.yaml writes them (how to tell a
fault a partner says in a body, and what to do about it): settings only, pure pydantic.

Apart from :mod:`.faults` (which matches them against answers) because every command
that reads the network validates them: an XPath is compiled to check it, so lxml is
loaded only when a rule has one.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.config.connector_spec import Duration, parse_duration

__all__ = ["FaultRuleSpec"]


class FaultRuleSpec(BaseModel):
    """One kind of fault the partner answers, and what to do about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when_xpath: str | None = Field(
        default=None,
        description="XPath on the answer's XML body that selects something or is true, "
        "e.g. //*[local-name()='faultcode'][normalize-space()='rd:QUOTA'].",
    )
    match: str | None = Field(
        default=None, description="A regular expression searched in the body (as text)."
    )
    status: tuple[int, ...] | None = Field(
        default=None, description="Only answers with one of these HTTP statuses; default: any."
    )
    then: Literal["wait", "skip", "fail"] = Field(
        description="wait: pause `wait` and ask again (within max_attempts); skip: leave the "
        "item, noted for the operator; fail: stop the run with the fault's text."
    )
    wait: Duration = Field(default="1s", description="How long `then: wait` pauses.")
    text_xpath: str | None = Field(
        default=None,
        description="XPath of what the fault says, for the note or the failure, e.g. "
        "string(//*[local-name()='faultstring']); default: the body's first characters.",
    )

    @model_validator(mode="after")
    def _one_test(self) -> FaultRuleSpec:
        if (self.when_xpath is None) == (self.match is None):
            raise ValueError("give exactly one of when_xpath or match")
        return self

    @field_validator("when_xpath", "text_xpath")
    @classmethod
    def _xpath(cls, value: str | None) -> str | None:
        if value is not None:
            from lxml import etree  # only when a rule has an XPath (issue 17)

            try:
                etree.XPath(value)
            except etree.XPathSyntaxError as exc:
                raise ValueError(f"{value!r} is not an XPath expression ({exc})") from None
        return value

    @field_validator("match")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a regular expression ({exc})") from None
        return value

    @property
    def wait_seconds(self) -> float:
        return parse_duration(self.wait).total_seconds()
