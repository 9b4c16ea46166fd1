"""The ``http-push`` receiver: a partner POSTs each message to the hub.

Authentication is one of four schemes (HMAC signature, HTTP Basic, an API key in a
header, a bearer token), every secret read from the environment and compared in
constant time. The answer and the refusal are templates (adapters/receivers/templates.py)
with their status and content type; the defaults answer JSON as the hub always did.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.receivers.templates import (
    READS_BODY,
    BodyUnreadable,
    Template,
    parse_template,
    read_values,
    read_xml,
    xpath_holds,
)
from hub.config.connector_spec import Duration, EnvName, parse_duration
from hub.config.secrets import MissingSecret
from hub.ports import (
    AcceptedPush,
    AdapterInfo,
    AdapterKind,
    Capability,
    MessageRef,
    PushAnswer,
    PushRefusal,
    PushRequest,
    RawMessage,
    RefusalKind,
)

__all__ = [
    "HTTP_PUSH",
    "BodyRequirement",
    "HttpPushReceiver",
    "HttpPushSettings",
    "UnstorableSettings",
]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HmacAuth(_Settings):
    """A signature of the body (or of a timestamp, a dot and the body) with a shared secret."""

    scheme: Literal["hmac"]
    secret_env: EnvName = Field(description="Variable holding the shared secret.")
    signature_header: str = "X-Signature"
    algorithm: Literal["sha256", "sha512", "sha1"] = "sha256"
    encoding: Literal["hex", "base64"] = Field(default="hex", description="Of the digest.")
    prefix: str = Field(default="sha256=", description="Text before the digest (may be empty).")
    timestamp_header: str | None = Field(
        default="X-Timestamp", description="Header with the signing time in Unix seconds."
    )
    tolerance: Duration = Field(default="5m", description="Oldest signing time accepted.")
    signed_content: Literal["timestamp.body", "body"] = Field(
        default="timestamp.body",
        description="What the HMAC covers: the timestamp, a dot and the raw body; or the "
        "raw body alone.",
    )

    @model_validator(mode="after")
    def _timestamp_for_signed_timestamp(self) -> Self:
        if self.signed_content == "timestamp.body" and self.timestamp_header is None:
            raise ValueError("signed_content timestamp.body needs a timestamp_header")
        return self


class BasicAuth(_Settings):
    """HTTP Basic: a user name and a password."""

    scheme: Literal["basic"]
    username_env: EnvName
    password_env: EnvName
    realm: str = Field(default="hub", pattern=r'^[^"\\\r\n]*$')


class ApiKeyAuth(_Settings):
    """A key in a request header."""

    scheme: Literal["api-key"]
    header: str = "X-Api-Key"
    key_env: EnvName


class BearerAuth(_Settings):
    """``Authorization: Bearer <token>``."""

    scheme: Literal["bearer"]
    token_env: EnvName


Auth = Annotated[HmacAuth | BasicAuth | ApiKeyAuth | BearerAuth, Field(discriminator="scheme")]

DEFAULT_ANSWER = '{{"status":"accepted","message_id":{message_id}}}'
DEFAULT_REFUSAL = '{{"type":"about:blank","status":{status},"detail":"{reason}"}}'


class AnswerSettings(_Settings):
    """What an accepted, archived push is answered. The body is a template."""

    status: int = Field(default=200, ge=200, le=299)
    content_type: str = "application/json"
    body: str = Field(default=DEFAULT_ANSWER, description="Template (docs/adapters.md).")

    @field_validator("body")
    @classmethod
    def _template(cls, body: str) -> str:
        if "reason" in parse_template(body).kinds():
            raise ValueError("{reason} is for refusals only")
        return body


class RefusalSettings(_Settings):
    """What a refused push is answered (401 when it is not authenticated; 413 too large
    and 400 unreadable keep their own statuses). The body is a template."""

    status: int = Field(default=401, ge=400, le=499)
    content_type: str = "application/problem+json"
    body: str = Field(default=DEFAULT_REFUSAL, description="Template (docs/adapters.md).")

    @field_validator("body")
    @classmethod
    def _template(cls, body: str) -> str:
        kinds = parse_template(body).kinds()
        if kinds & (READS_BODY | {"message_id"}):
            raise ValueError(
                "a refusal may not read the body nor name a message id: nothing of an "
                "unauthenticated push is read or kept"
            )
        return body


class BodyRequirement(_Settings):
    """Something an authenticated push's body must hold to be storable at all: an XPath
    that selects a node or a non-empty value (``/Evenements/@lot``), or is true."""

    xml: str = Field(description="XPath on the body; nothing selected, empty or false fails.")
    reason: str | None = Field(
        default=None, description="What the partner is told when it fails (default: the XPath)."
    )

    @field_validator("xml")
    @classmethod
    def _xpath(cls, xml: str) -> str:
        try:
            etree.XPath(xml)
        except etree.XPathSyntaxError as exc:
            raise ValueError(f"{xml!r} is not an XPath expression ({exc})") from None
        return xml


class UnstorableSettings(_Settings):
    """What an authenticated push that can never be stored is answered: its body is not
    what the answer reads (not XML, not JSON) or fails a ``require``. Some partners want
    a business refusal here (``200`` with ``statut="KO"``) rather than an HTTP error, so
    that they stop retrying. The body is a template; it may read the body's values (empty
    when the body is unreadable) and ``{reason}``."""

    status: int = Field(default=400, ge=200, le=499)
    content_type: str = "application/problem+json"
    body: str = Field(default=DEFAULT_REFUSAL, description="Template (docs/adapters.md).")

    @field_validator("body")
    @classmethod
    def _template(cls, body: str) -> str:
        if "message_id" in parse_template(body).kinds():
            raise ValueError("an unstorable push is not archived: it has no {message_id}")
        return body


class HttpPushSettings(_Settings):
    """Partners POST each message to ``/partners/{connector}/events``."""

    auth: Auth
    max_bytes: int = Field(default=1_000_000, ge=1)
    answer: AnswerSettings = AnswerSettings()
    refusal: RefusalSettings = RefusalSettings()
    require: tuple[BodyRequirement, ...] = Field(
        default=(),
        description="What the body must hold to be storable (XPaths); a push failing one "
        "is answered as unstorable and nothing is kept.",
    )
    unstorable: UnstorableSettings | None = Field(
        default=None,
        description="The answer to an authenticated push that can never be stored (body "
        "unreadable, a `require` failed); default: a 400 from the refusal template.",
    )


_REFUSAL_STATUS = {RefusalKind.TOO_LARGE: 413, RefusalKind.MALFORMED: 400}


def _same(given: str | bytes, expected: str | bytes) -> bool:
    """Constant time, lengths included: both sides are hashed before comparing."""
    left = given.encode("utf-8", "replace") if isinstance(given, str) else given
    right = expected.encode("utf-8") if isinstance(expected, str) else expected
    return hmac.compare_digest(hashlib.sha256(left).digest(), hashlib.sha256(right).digest())


def _secret(secrets: Mapping[str, str], name: str, variable: str) -> str:
    value = secrets.get(name)
    if not value:
        raise MissingSecret(f"the receiver needs the environment variable {variable}")
    return value


class HttpPushReceiver:
    """One connector's push endpoint: its settings and its secrets."""

    def __init__(self, settings: HttpPushSettings, secrets: Mapping[str, str]) -> None:
        self.settings = settings
        auth = settings.auth
        names = {
            HmacAuth: {"secret": "secret_env"},
            BasicAuth: {"username": "username_env", "password": "password_env"},
            ApiKeyAuth: {"key": "key_env"},
            BearerAuth: {"token": "token_env"},
        }[type(auth)]
        self._secrets = {
            name: _secret(secrets, name, getattr(auth, field)) for name, field in names.items()
        }
        self._answer = parse_template(settings.answer.body)
        self._refusal = parse_template(settings.refusal.body)
        self._unstorable_template = parse_template(
            settings.unstorable.body if settings.unstorable is not None else ""
        )

    def authenticate(self, request: PushRequest) -> AcceptedPush | PushRefusal:
        body = request.body
        refusal_values = self._values(self._refusal, request, body=b"")
        if len(body) > self.settings.max_bytes:
            return PushRefusal(
                RefusalKind.TOO_LARGE,
                f"the body is {len(body)} bytes; at most {self.settings.max_bytes} accepted",
                refusal_values,
            )
        checked = self._check(request)
        if isinstance(checked, str):
            return PushRefusal(RefusalKind.UNAUTHENTICATED, checked, refusal_values)
        try:
            values = self._values(self._answer, request, body=body)
            unmet = self._unmet_requirement(body)
        except BodyUnreadable as error:
            return self._unstorable(error.message, request, refusal_values)
        if unmet is not None:
            return self._unstorable(unmet, request, refusal_values)
        digest = hashlib.sha256(body).hexdigest()
        name = f"push-{checked:%Y%m%dT%H%M%SZ}-{digest[:16]}"
        return AcceptedPush(RawMessage(MessageRef(name, len(body), checked), body), values)

    def answer(self, push: AcceptedPush, message_id: int) -> PushAnswer:
        status = self.settings.answer.status
        values = {**push.values, "message_id": str(message_id), "status": str(status)}
        content_type = self.settings.answer.content_type
        return PushAnswer(status, content_type, self._answer.render(values, content_type))

    def refuse(self, refusal: PushRefusal) -> PushAnswer:
        unstorable = self.settings.unstorable
        if refusal.kind is RefusalKind.MALFORMED and unstorable is not None:
            values = {**refusal.values, "reason": refusal.reason, "status": str(unstorable.status)}
            body = self._unstorable_template.render(values, unstorable.content_type)
            return PushAnswer(unstorable.status, unstorable.content_type, body)
        status = _REFUSAL_STATUS.get(refusal.kind, self.settings.refusal.status)
        values = {**refusal.values, "reason": refusal.reason, "status": str(status)}
        content_type = self.settings.refusal.content_type
        headers = {}
        if refusal.kind is RefusalKind.UNAUTHENTICATED and isinstance(
            self.settings.auth, BasicAuth
        ):
            headers["WWW-Authenticate"] = f'Basic realm="{self.settings.auth.realm}"'
        return PushAnswer(status, content_type, self._refusal.render(values, content_type), headers)

    def _unmet_requirement(self, body: bytes) -> str | None:
        """Why the body can never be stored (a ``require`` it fails), or None. Raises
        BodyUnreadable for a body that is not XML."""
        if not self.settings.require:
            return None
        tree = read_xml(body, max_bytes=self.settings.max_bytes)
        for requirement in self.settings.require:
            if not xpath_holds(tree, requirement.xml):
                return requirement.reason or f"the body has nothing at {requirement.xml}"
        return None

    def _unstorable(
        self, reason: str, request: PushRequest, refusal_values: dict[str, str]
    ) -> PushRefusal:
        """A refusal of an authenticated body that can never be stored; its answer may
        echo what of the body is readable (nothing, when it is not XML or JSON)."""
        values = refusal_values
        if self.settings.unstorable is not None:
            values = read_values(
                self._unstorable_template.placeholders,
                headers=request.headers,
                query=request.query,
                client=request.client,
                body=request.body,
                max_bytes=self.settings.max_bytes,
                lenient=True,
            )
        return PushRefusal(RefusalKind.MALFORMED, reason, values)

    def _values(self, template: Template, request: PushRequest, *, body: bytes) -> dict[str, str]:
        return read_values(
            template.placeholders,
            headers=request.headers,
            query=request.query,
            client=request.client,
            body=body,
            max_bytes=self.settings.max_bytes,
        )

    def _check(self, request: PushRequest) -> datetime | str:
        """The message's time when the push is authentic, else why it is not."""
        auth = self.settings.auth
        if isinstance(auth, HmacAuth):
            return self._check_hmac(auth, request)
        if isinstance(auth, BasicAuth):
            given = request.header("Authorization") or ""
            scheme, _, encoded = given.partition(" ")
            if scheme.lower() != "basic":
                return "no Basic credentials"
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                return "malformed Basic credentials"
            user, colon, password = decoded.partition(b":")
            # Both compared, always: the time says nothing of which one was wrong.
            same_user = _same(user, self._secrets["username"])
            same_password = _same(password, self._secrets["password"])
            if not (colon and same_user and same_password):
                return "wrong user name or password"
            return request.received_at
        if isinstance(auth, ApiKeyAuth):
            key = request.header(auth.header)
            if not key:
                return f"no {auth.header} header"
            if not _same(key.strip(), self._secrets["key"]):
                return f"wrong {auth.header}"
            return request.received_at
        given = request.header("Authorization") or ""
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "no bearer token"
        if not _same(token.strip(), self._secrets["token"]):
            return "wrong bearer token"
        return request.received_at

    def _check_hmac(self, auth: HmacAuth, request: PushRequest) -> datetime | str:
        signature = (request.header(auth.signature_header) or "").strip()
        if not signature:
            return f"unsigned push: no {auth.signature_header} header"
        signed = request.body
        moment = request.received_at
        if auth.timestamp_header is not None:
            stamp = request.header(auth.timestamp_header) or ""
            # ASCII digits only (str.isdigit also says yes to "²" and "٣"), and few enough
            # to be seconds that a datetime holds them (11 reach the year 5138).
            if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 11):
                return f"missing or malformed {auth.timestamp_header} header"
            moment = datetime.fromtimestamp(int(stamp), UTC)
            if abs(request.received_at - moment) > parse_duration(auth.tolerance):
                return (
                    f"push signed at {moment:%Y-%m-%dT%H:%M:%SZ}, outside the "
                    f"{auth.tolerance} tolerance"
                )
            if auth.signed_content == "timestamp.body":
                signed = stamp.encode("ascii") + b"." + request.body
        if not signature.startswith(auth.prefix):
            return f"the signature does not start with {auth.prefix!r}"
        given = signature.removeprefix(auth.prefix)
        mac = hmac.new(self._secrets["secret"].encode("utf-8"), signed, auth.algorithm).digest()
        if auth.encoding == "hex":
            expected, given = mac.hex(), given.lower()
        else:
            expected = base64.b64encode(mac).decode("ascii")
        if not _same(given, expected):
            return "the signature does not match the body"
        return moment


def receiver_from_settings(
    settings: HttpPushSettings, secrets: Mapping[str, str]
) -> HttpPushReceiver:
    return HttpPushReceiver(settings, secrets)


HTTP_PUSH = AdapterInfo(
    kind=AdapterKind.RECEIVER,
    name="http-push",
    summary="Partners POST each message, authenticated by HMAC, Basic, API key or bearer "
    "token; answered from templates.",
    settings=HttpPushSettings,
    factory=receiver_from_settings,
    capabilities=frozenset({Capability.RECEIVE}),
)
"""The ``http-push`` entry point of ``hub.receivers``."""
