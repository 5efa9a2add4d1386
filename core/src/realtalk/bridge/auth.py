"""Who is connecting: static API keys and JWTs (HS256/RS256) mapped to a user id.

A token may arrive as ``Authorization: Bearer <token>`` (servers, mobile apps), inside
``Sec-WebSocket-Protocol`` as ``bearer.<token>`` next to ``realtalk.v1`` (browsers cannot
set headers on a WebSocket), or as a query parameter (last resort: URLs end up in logs).
Authentication is required unless the server only listens on loopback, or the config
turns it off explicitly. Secrets are compared in constant time and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BEARER_PREFIX = "bearer."
"""Subprotocol entry carrying a token: ``bearer.<token>``."""


class AuthError(Exception):
    """Authentication failed; ``status`` is the HTTP status an HTTP endpoint answers."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller (``user_id`` None when auth is off and no token was given)."""

    user_id: str | None
    method: Literal["api_key", "jwt", "none"]


class ApiKey(BaseModel):
    """One static key. Give exactly one of ``key``, ``key_env`` or ``key_sha256`` (hex)."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1)
    key: str | None = Field(default=None, repr=False)
    key_env: str | None = None
    key_sha256: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ApiKey:
        given = [x for x in (self.key, self.key_env, self.key_sha256) if x]
        if len(given) != 1:
            raise ValueError(
                f"api key for user {self.user!r}: give exactly one of key, key_env, key_sha256"
            )
        return self

    def digest(self) -> bytes | None:
        """SHA-256 of the key, or None when its environment variable is unset."""
        if self.key_sha256:
            return bytes.fromhex(self.key_sha256)
        value = self.key if self.key else os.environ.get(self.key_env or "")
        return hashlib.sha256(value.encode()).digest() if value else None


JWTAlgorithm = Literal["HS256", "RS256"]


class JWTConfig(BaseModel):
    """JWT verification. HS256 takes a shared secret, RS256 a PEM public key."""

    model_config = ConfigDict(extra="forbid")

    algorithms: list[JWTAlgorithm] = Field(default_factory=lambda: list[JWTAlgorithm](["HS256"]))
    secret: str | None = Field(default=None, repr=False)
    secret_env: str | None = None
    public_key: str | None = Field(default=None, repr=False)
    public_key_file: str | None = None
    audience: str | list[str] | None = None
    issuer: str | None = None
    leeway: float = Field(default=0.0, ge=0)
    user_claim: str = "sub"

    @model_validator(mode="after")
    def _has_key(self) -> JWTConfig:
        if "HS256" in self.algorithms and not (self.secret or self.secret_env):
            raise ValueError("jwt: HS256 needs 'secret' or 'secret_env'")
        if "RS256" in self.algorithms and not (self.public_key or self.public_key_file):
            raise ValueError("jwt: RS256 needs 'public_key' or 'public_key_file'")
        return self


class AuthConfig(BaseModel):
    """The ``auth`` section of ``realtalk.json``."""

    model_config = ConfigDict(extra="forbid")

    required: bool | None = None
    """None: required unless the server binds to a loopback address."""
    api_keys: list[ApiKey] = Field(default_factory=list)
    jwt: JWTConfig | None = None
    query_param: str | None = "access_token"
    """Query parameter accepted as a token source (None disables it)."""
    allowed_origins: list[str] | None = None
    """Browser origins allowed to open the WebSocket (None: any; mitigates cross-site use)."""

    def is_required(self, host: str) -> bool:
        return self.required if self.required is not None else not is_loopback(host)


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class TokenSource:
    token: str | None
    source: Literal["header", "subprotocol", "query", "none"]


def extract_token(
    headers: Mapping[str, str],
    query: Mapping[str, str],
    subprotocols: Sequence[str] = (),
    query_param: str | None = "access_token",
) -> TokenSource:
    """Find the caller's token: Authorization header, then subprotocol, then query."""
    header = headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return TokenSource(value.strip(), "header")
        raise AuthError("Authorization header must be 'Bearer <token>'")
    for proto in subprotocols:
        if proto.lower().startswith(BEARER_PREFIX) and len(proto) > len(BEARER_PREFIX):
            return TokenSource(proto[len(BEARER_PREFIX) :], "subprotocol")
    if query_param and query.get(query_param):
        return TokenSource(query[query_param], "query")
    return TokenSource(None, "none")


class Authenticator:
    """Turns a token into a `Principal` according to `AuthConfig`."""

    def __init__(self, config: AuthConfig, *, required: bool, base_dir: Path | None = None):
        self.config = config
        self.required = required
        self._keys = [(k.digest(), k.user) for k in config.api_keys]
        self._jwt_keys: dict[str, Any] = {}
        jwt_config = config.jwt
        if jwt_config is not None:
            if "HS256" in jwt_config.algorithms:
                secret = jwt_config.secret or os.environ.get(jwt_config.secret_env or "")
                if not secret:
                    raise ValueError(f"jwt: environment variable {jwt_config.secret_env} is unset")
                self._jwt_keys["HS256"] = secret
            if "RS256" in jwt_config.algorithms:
                pem = jwt_config.public_key
                if pem is None and jwt_config.public_key_file:
                    key_path = Path(jwt_config.public_key_file)
                    if base_dir is not None and not key_path.is_absolute():
                        key_path = base_dir / key_path
                    pem = key_path.read_text(encoding="utf-8")
                self._jwt_keys["RS256"] = pem
        if required and not self._keys and not self._jwt_keys:
            raise ValueError(
                "authentication is required (the server is not bound to loopback) but the "
                "auth section configures no api_keys and no jwt; add one, or set "
                '"required": false explicitly'
            )

    def must_authenticate(
        self,
        client_host: str | None,
        server_host: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether this caller needs a token.

        With auth on "auto" and a loopback-bound server, only a genuinely local caller
        goes without one: a request that came through a proxy (``Forwarded`` /
        ``X-Forwarded-For``), from a non-loopback address, or to a non-loopback address
        (the app mounted in someone else's server) must authenticate.
        """
        if self.required:
            return True
        if self.config.required is False:
            return False
        forwarded = headers is not None and ("forwarded" in headers or "x-forwarded-for" in headers)
        local_client = client_host is not None and is_loopback(client_host)
        local_server = server_host is None or is_loopback(server_host)
        return forwarded or not local_client or not local_server

    def authenticate(self, token: str | None, *, required: bool | None = None) -> Principal:
        """The principal for ``token``; raises `AuthError` when it is refused.

        ``required`` (default: the server-wide setting) says whether a missing token is
        an error; see `must_authenticate()`.
        """
        if not token:
            if self.required if required is None else required:
                if not self._keys and not self._jwt_keys:
                    raise AuthError(
                        "authentication required for callers that are not local, and this "
                        "server has no credentials configured"
                    )
                raise AuthError("authentication required: send a bearer token")
            return Principal(user_id=None, method="none")
        user = self._match_key(token)
        if user is not None:
            return Principal(user_id=user, method="api_key")
        if self._jwt_keys and token.count(".") == 2:
            return Principal(user_id=self._verify_jwt(token), method="jwt")
        raise AuthError("invalid credentials")

    def _match_key(self, token: str) -> str | None:
        digest = hashlib.sha256(token.encode()).digest()
        found: str | None = None
        for key_digest, user in self._keys:  # no early exit: constant time over the keys
            if key_digest is not None and hmac.compare_digest(digest, key_digest):
                found = user
        return found

    def _verify_jwt(self, token: str) -> str:
        import jwt  # pyjwt, from the "server" extra

        assert self.config.jwt is not None
        cfg = self.config.jwt
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("invalid credentials: malformed token") from None
        alg = header.get("alg")
        if alg not in self._jwt_keys:
            raise AuthError(f"invalid credentials: token algorithm {alg!r} is not accepted")
        required = ["exp", cfg.user_claim] + (["aud"] if cfg.audience is not None else [])
        options: Any = {"require": required}
        try:
            claims = jwt.decode(
                token,
                self._jwt_keys[alg],
                algorithms=[alg],
                audience=cfg.audience,
                issuer=cfg.issuer,
                leeway=cfg.leeway,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("invalid credentials: token expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("invalid credentials: wrong audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("invalid credentials: wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"invalid credentials: token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthError("invalid credentials: bad token signature or claims") from None
        user = claims.get(cfg.user_claim)
        if not isinstance(user, str) or not user:
            raise AuthError(f"invalid credentials: {cfg.user_claim!r} must be a non-empty string")
        return user

    def origin_allowed(self, origin: str | None) -> bool:
        allowed = self.config.allowed_origins
        return allowed is None or origin is None or origin in allowed


__all__ = [
    "BEARER_PREFIX",
    "ApiKey",
    "AuthConfig",
    "AuthError",
    "Authenticator",
    "JWTConfig",
    "Principal",
    "TokenSource",
    "extract_token",
    "is_loopback",
]
