"""What connectors.yaml says of a partner's REST API: the ``http-pull`` and ``http-post``
transports' settings, as written in the file (durations as text, secrets by variable)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.transports.http.fault_rules import FaultRuleSpec
from adapters.transports.http.item_request import ItemRequestSpec
from hub.config.connector_spec import Duration, EnvName
from hub.ports import CursorSettings

__all__ = [
    "ApiKeyAuthSpec",
    "BasicAuthSpec",
    "HttpClientSpec",
    "HttpPostTransportSpec",
    "HttpPullTransportSpec",
    "OAuth2ClientCredentialsSpec",
    "PaginationSpec",
    "WebhookTransportSpec",
]


class OAuth2ClientCredentialsSpec(BaseModel):
    """OAuth 2.0 client credentials: a token from ``token_url`` (asked with HTTP Basic
    client authentication), reused until it expires, renewed once on a 401."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="oauth2-client-credentials")

    scheme: Literal["oauth2-client-credentials"]
    token_url: str = Field(pattern=r"^https?://[^/?#@\s]+")
    client_id_env: EnvName
    client_secret_env: EnvName
    scope: str | None = Field(default=None, description="Space-separated scopes, if any.")


class BasicAuthSpec(BaseModel):
    """HTTP Basic authentication (RFC 7617) on every call."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="basic")

    scheme: Literal["basic"]
    username_env: EnvName
    password_env: EnvName


class ApiKeyAuthSpec(BaseModel):
    """An API key sent in a header on every call."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="api-key")

    scheme: Literal["api-key"]
    header: str = Field(default="X-Api-Key", pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
    api_key_env: EnvName


AuthSpec = Annotated[
    OAuth2ClientCredentialsSpec | BasicAuthSpec | ApiKeyAuthSpec, Field(discriminator="scheme")
]


class HttpClientSpec(BaseModel):
    """What every HTTP client of a partner API needs: where, who we are, how fast."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(pattern=r"^https?://")
    header_env: dict[str, EnvName] = Field(
        default_factory=dict, description="Header -> environment variable holding its value."
    )
    bearer_token_env: EnvName | None = Field(
        default=None, description="Sends Authorization: Bearer <the variable's value>."
    )
    auth: AuthSpec | None = Field(
        default=None,
        description="How we authenticate (oauth2-client-credentials, basic, api-key); "
        "header_env and bearer_token_env still work alongside.",
    )
    requests_per_second: float = Field(default=5, gt=0, description="Stay under the limit.")
    timeout: Duration = "30s"
    max_attempts: int = Field(default=6, ge=1, le=20, description="Tries per request.")
    max_wait: Duration = Field(
        default="15m", description="Longest single wait (a maintenance window's Retry-After)."
    )


class PaginationSpec(BaseModel):
    """How the next page is found: a cursor in the document (``cursor_field``), the
    answer's RFC 8288 ``Link: <...>; rel="next"`` header (``link_header``), or a page
    number counted up while pages have records (``page_number``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    style: Literal["cursor_field", "link_header", "page_number"] = "cursor_field"
    page_param: str = Field(default="page", description="Query parameter of the page number.")
    size_param: str | None = Field(
        default=None, description="Query parameter of the page size (per_page), if any."
    )
    size: int | None = Field(default=None, ge=1, description="Page size asked for.")
    first_page: int = Field(default=1, ge=0, description="Number of the first page.")

    @model_validator(mode="after")
    def _size_needs_its_param(self) -> PaginationSpec:
        if (self.size is None) != (self.size_param is None):
            raise ValueError("size and size_param go together")
        return self


class HttpPullTransportSpec(HttpClientSpec, CursorSettings):
    """A partner REST API read page by page (or object by object), with retries.

    The transport only does HTTP; ``next_field`` and ``more_field`` name the codec's
    document fields that carry the next cursor and whether more pages follow. With a
    ``page_path`` the connector pages the feed; with only an ``item_path`` it fetches
    each open object by its key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, title="http-pull transport")

    page_path: str | None = Field(
        default=None, description="Path of the paged feed, e.g. /repairs/changes."
    )
    cursor_param: str = Field(default="since", description="Query parameter of the cursor.")
    pagination: PaginationSpec = Field(
        default_factory=PaginationSpec,
        description="How the next page is found: cursor_field, link_header or page_number.",
    )
    since_param: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.\-\[\]]+$",
        description="An incremental feed: the query parameter (e.g. modified_since) that "
        "asks each run's first page from the newest occurred_at the hub stored, in RFC "
        "3339 UTC; the pages after it are followed by the pagination style. Events at "
        "that instant come again and are told apart by their ids.",
    )
    item_path: str | None = Field(
        default=None,
        description="Path of one object, with {key}: /repairs/{key} (with an item_request, "
        "the path it is sent to, {key} optional: /ws/SuiviColis).",
    )
    item_request: ItemRequestSpec | None = Field(
        default=None,
        description="Each item asked by a request rendered from a template (a SOAP POST) "
        "instead of a GET of item_path.",
    )
    faults: tuple[FaultRuleSpec, ...] = Field(
        default=(),
        description="Faults the partner says in an answer's body (a SOAP Fault), first "
        "match wins: wait and ask again, skip the item (noted), or fail the run.",
    )

    @model_validator(mode="after")
    def _since_pages_carry_it(self) -> HttpPullTransportSpec:
        if self.since_param is not None and self.pagination.style == "page_number":
            raise ValueError(
                "since_param needs pages that carry it (link_header or cursor_field): a "
                "page number alone would lose the time asked from"
            )
        if self.since_param is not None and self.page_path is None:
            raise ValueError("since_param needs a page_path (the feed it asks from)")
        return self


class HttpPostTransportSpec(HttpClientSpec):
    """A partner REST API that takes our orders by POST (a repair order, a pickup).

    Every delivery is retried through rate limits, maintenance and network faults, which
    is safe only because each carries an Idempotency-Key and the partner recognises a
    repeat: say how with ``conflict_is_success`` or ``idempotent_ok_status``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, title="http-post transport")

    post_path: str = Field(description="Path orders are POSTed to, e.g. /repairs.")
    content_type: str = Field(
        pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[\x20-\x7e]*)?$",
        description="Media type of the body as the partner expects it, e.g. application/xml.",
    )
    conflict_is_success: bool = Field(
        default=False,
        description="409 means the partner has this order already (the same order "
        "reference): count it as delivered.",
    )
    idempotent_ok_status: int | None = Field(
        default=None,
        description="The status (200, 202 or 204) by which the partner says it had the "
        "message already, as some carriers answer 200 to a known reference.",
    )

    @model_validator(mode="after")
    def _repeat_status_is_not_created(self) -> HttpPostTransportSpec:
        if self.idempotent_ok_status not in (None, 200, 202, 204):
            raise ValueError("idempotent_ok_status must be 200, 202 or 204 (201 means new)")
        return self


class WebhookTransportSpec(HttpPostTransportSpec):
    """A retailer's webhook URL, POSTed signed messages (Standard Webhooks): the
    http-post transport's options without credentials, since the signature is the
    message's own. Sent through httpx's connection pool alone: no cookies, no proxy, no
    OAuth, by design (``adapters.transports.http.webhook``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="http-webhook transport")

    @model_validator(mode="after")
    def _no_credentials(self) -> WebhookTransportSpec:
        if self.header_env or self.bearer_token_env is not None or self.auth is not None:
            raise ValueError(
                "a webhook carries its own signature: no header_env, bearer_token_env or auth"
            )
        return self
