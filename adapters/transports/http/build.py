"""Building an HTTP transport from its connectors.yaml settings and resolved secrets: the
client's shared settings are mapped in one place, whichever transport is built.

Apart from :mod:`.from_spec` (the entry point) because this imports the HTTP client
(httpx, authlib), which only a command that talks to a partner needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from adapters.transports.http.oauth import ClientCredentials
from adapters.transports.http.post import HttpPostTransport
from adapters.transports.http.pull import HttpPullTransport
from adapters.transports.http.settings import (
    Credential,
    HttpClientSettings,
    HttpPostSettings,
    HttpPullSettings,
)
from adapters.transports.http.spec import (
    ApiKeyAuthSpec,
    BasicAuthSpec,
    HttpPostTransportSpec,
    HttpPullTransportSpec,
    OAuth2ClientCredentialsSpec,
    WebhookTransportSpec,
)
from adapters.transports.http.webhook import WebhookTransport
from hub.config.connector_spec import parse_duration
from hub.config.secrets import MissingSecret

__all__ = ["build_transport", "build_webhook_transport"]

_SettingsT = TypeVar("_SettingsT", bound=HttpClientSettings)


def _credentials(
    spec: HttpPullTransportSpec | HttpPostTransportSpec, secrets: Mapping[str, str]
) -> tuple[Credential, ...]:
    credentials: list[Credential] = []
    for header, env in spec.header_env.items():
        value = secrets.get(f"header:{header}")
        if not value:
            raise MissingSecret(f"the {header} header needs the environment variable {env}")
        credentials.append(Credential(header, value, env))
    if spec.bearer_token_env is not None:
        token = secrets.get("bearer_token")
        if not token:
            raise MissingSecret(
                f"the bearer token needs the environment variable {spec.bearer_token_env}"
            )
        credentials.append(Credential.bearer(token, spec.bearer_token_env))
    auth = spec.auth
    if isinstance(auth, BasicAuthSpec):
        username, password = (
            _secret(secrets, "username", auth.username_env),
            _secret(secrets, "password", auth.password_env),
        )
        credentials.append(Credential.basic(username, password, auth.password_env))
    elif isinstance(auth, ApiKeyAuthSpec):
        key = _secret(secrets, "api_key", auth.api_key_env)
        credentials.append(Credential(auth.header, key, auth.api_key_env))
    return tuple(credentials)


def _oauth(
    spec: HttpPullTransportSpec | HttpPostTransportSpec, secrets: Mapping[str, str]
) -> ClientCredentials | None:
    auth = spec.auth
    if not isinstance(auth, OAuth2ClientCredentialsSpec):
        return None
    return ClientCredentials(
        token_url=auth.token_url,
        client_id=_secret(secrets, "client_id", auth.client_id_env),
        client_secret=_secret(secrets, "client_secret", auth.client_secret_env),
        scope=auth.scope,
        client_id_env=auth.client_id_env,
        client_secret_env=auth.client_secret_env,
        timeout=parse_duration(spec.timeout).total_seconds(),
    )


def _secret(secrets: Mapping[str, str], name: str, env: str) -> str:
    value = secrets.get(name)
    if not value:
        raise MissingSecret(f"the {name.replace('_', ' ')} needs the environment variable {env}")
    return value


def _item_secrets(spec: HttpPullTransportSpec, secrets: Mapping[str, str]) -> dict[str, str]:
    """The item request's ``{secret:NAME}`` values (``secrets["body:NAME"]``)."""
    if spec.item_request is None:
        return {}
    return {
        name: _secret(secrets, f"body:{name}", env)
        for name, env in spec.item_request.body_env.items()
    }


def _settings(
    kind: type[_SettingsT],
    spec: HttpPullTransportSpec | HttpPostTransportSpec,
    secrets: Mapping[str, str],
    **own: Any,
) -> _SettingsT:
    """The client's settings as the file gives them (durations in seconds, secrets
    resolved), with the transport's ``own`` fields added."""
    return kind(
        base_url=spec.base_url,
        credentials=_credentials(spec, secrets),
        oauth=_oauth(spec, secrets),
        requests_per_second=spec.requests_per_second,
        timeout=parse_duration(spec.timeout).total_seconds(),
        max_attempts=spec.max_attempts,
        max_wait=parse_duration(spec.max_wait).total_seconds(),
        **own,
    )


def _post_settings(spec: HttpPostTransportSpec, secrets: Mapping[str, str]) -> HttpPostSettings:
    return _settings(
        HttpPostSettings,
        spec,
        secrets,
        post_path=spec.post_path,
        content_type=spec.content_type,
        conflict_is_success=spec.conflict_is_success,
        idempotent_ok_status=spec.idempotent_ok_status,
    )


def build_webhook_transport(spec: WebhookTransportSpec) -> WebhookTransport:
    """The webhook sender the spec describes (``webhook_from_spec``): no secrets, since
    the message carries its signature."""
    return WebhookTransport(_post_settings(spec, {}))


def build_transport(
    spec: HttpPullTransportSpec | HttpPostTransportSpec,
    secrets: Mapping[str, str],
    default_pattern: str | None,
) -> HttpPullTransport | HttpPostTransport:
    """The transport the spec describes, its secrets resolved (``transport_from_spec``)."""
    del default_pattern  # pages, objects and deliveries are addressed by path
    if isinstance(spec, HttpPostTransportSpec):
        return HttpPostTransport(_post_settings(spec, secrets))
    return HttpPullTransport(
        _settings(
            HttpPullSettings,
            spec,
            secrets,
            page_path=spec.page_path,
            cursor_param=spec.cursor_param,
            item_path=spec.item_path,
            pagination=spec.pagination,
            since_param=spec.since_param,
            item_request=spec.item_request,
            item_secrets=_item_secrets(spec, secrets),
            faults=spec.faults,
        )
    )
