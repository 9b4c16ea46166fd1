"""The ``alerting:`` section of connectors.yaml: when a failing connector is flagged, and
when it is paused. Only its shape; ``hub.partners.alerts`` applies it after each run.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AlertingSpec(BaseModel):
    """When a connector is flagged or paused (connectors.yaml, ``alerting:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    flag_after_failures: int = Field(
        default=3, ge=1, description="Flag a connector after this many failed runs in a row."
    )
    pause_after_failures: int | None = Field(
        default=5,
        ge=1,
        description="Pause it after this many failed runs in a row (null: never pause).",
    )
    unmapped_codes_over: int = Field(
        default=0,
        ge=0,
        description="Flag a connector whose messages carry more distinct unmapped codes.",
    )
    rejects_over: int = Field(
        default=0, ge=0, description="Flag a connector whose last run rejected more rows."
    )
    file_warnings_over: int = Field(
        default=0,
        ge=0,
        description="Flag a connector with more file warnings (a sequence gap between "
        "files) no operator acknowledged yet.",
    )

    @model_validator(mode="after")
    def _flag_before_pause(self) -> AlertingSpec:
        pause = self.pause_after_failures
        if pause is not None and pause < self.flag_after_failures:
            raise ValueError(
                f"pause_after_failures ({pause}) is below flag_after_failures "
                f"({self.flag_after_failures}): a connector would be paused before it is flagged"
            )
        return self
