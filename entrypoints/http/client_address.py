"""Which address a request comes from: the TCP peer, or - only when that peer is a
trusted proxy (``CHAINWATCH_TRUSTED_PROXIES``) - the client its ``X-Forwarded-For`` names.

``X-Forwarded-For`` is a list each proxy appends its peer to, so only its right end can be
believed: walking from the right, every hop that is itself a trusted proxy is skipped and
the first one that is not is the client. Whatever a client wrote further left is never
used, so a client cannot choose its address (and escape its failed-authentication limit)
by sending the header itself. Uvicorn's own proxy-header handling is turned off
(``chainwatch serve``) so this is the one place that decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from litestar.types import Scope

from entrypoints.settings import IPNetwork

FORWARDED_FOR = b"x-forwarded-for"
FORWARDED_PROTO = b"x-forwarded-proto"
MAX_ADDRESS = 64


def client_address(scope: Scope, trusted: tuple[IPNetwork, ...]) -> str | None:
    """The client's address for ``scope`` (see the module docstring)."""
    client = scope.get("client")
    peer = None if not client else str(client[0])
    if peer is None or not trusted or not _is_trusted(peer, trusted):
        return None if peer is None else peer[:MAX_ADDRESS]
    address = peer
    for hop in reversed(list(_forwarded_hops(scope.get("headers", ())))):
        try:
            parsed = ipaddress.ip_address(hop)
        except ValueError:
            break  # not an address a proxy wrote: keep the last trusted hop's view
        address = str(parsed)
        if not any(parsed in network for network in trusted):
            break
    return address[:MAX_ADDRESS]


def request_scheme(scope: Scope, trusted: tuple[IPNetwork, ...]) -> str:
    """The scheme the client used: ``X-Forwarded-Proto`` (its last value) when the peer is
    a trusted proxy, else the ASGI scope's own - so a cookie is marked ``Secure`` behind a
    TLS-terminating proxy, and a client cannot claim TLS it does not have."""
    scheme = str(scope.get("scheme", "http"))
    client = scope.get("client")
    if not client or not trusted or not _is_trusted(str(client[0]), trusted):
        return scheme
    for name, value in scope.get("headers", ()):
        if name.lower() == FORWARDED_PROTO:
            claimed = bytes(value).decode("latin-1").split(",")[-1].strip().lower()
            if claimed in ("http", "https"):
                scheme = claimed
    return scheme


def _is_trusted(peer: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def _forwarded_hops(headers: Iterable[tuple[bytes, bytes]]) -> list[str]:
    hops: list[str] = []
    for name, value in headers:
        if name.lower() == FORWARDED_FOR:
            text = bytes(value).decode("latin-1")
            hops += [hop.strip() for hop in text.split(",") if hop.strip()]
    return hops
