"""A throw-away certificate authority for local TLS servers.

The google-genai SDK always connects with TLS (it rewrites any base URL to ``wss://``),
so an offline fake must serve TLS with a certificate the client trusts. ``trustme``
makes a private CA and a leaf certificate for ``localhost`` and ``127.0.0.1``; the
client context trusts only that CA, so nothing else on the machine is affected.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass

__all__ = ["LocalTLS", "local_tls", "new_local_tls"]


@dataclass(frozen=True)
class LocalTLS:
    """Matching server and client SSL contexts plus the CA certificate (PEM)."""

    server_context: ssl.SSLContext
    client_context: ssl.SSLContext
    ca_pem: bytes


def new_local_tls() -> LocalTLS:
    """Create a fresh CA and a ``localhost``/``127.0.0.1`` server certificate."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client)
    return LocalTLS(server_context=server, client_context=client, ca_pem=ca.cert_pem.bytes())


@functools.lru_cache(maxsize=1)
def local_tls() -> LocalTLS:
    """One `LocalTLS` per process (creating a CA costs a few milliseconds)."""
    return new_local_tls()
