"""Which address a request counts as coming from: X-Forwarded-For only via trusted proxies."""

from __future__ import annotations

import ipaddress
from typing import Any

from entrypoints.http.client_address import client_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


def scope(peer: str | None, *forwarded: str) -> Any:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"type": "http", "client": None if peer is None else (peer, 1234), "headers": headers}


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() -> None:
    assert client_address(scope("203.0.113.5", "198.51.100.1"), ()) == "203.0.113.5"


def test_an_untrusted_peer_cannot_choose_its_address_with_the_header() -> None:
    assert client_address(scope("203.0.113.5", "198.51.100.1"), PROXIES) == "203.0.113.5"


def test_behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() -> None:
    spoofed = scope("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.9")

    assert client_address(spoofed, PROXIES) == "198.51.100.1"


def test_every_x_forwarded_for_header_counts_in_order() -> None:
    two_headers = scope("::1", "6.6.6.6", "198.51.100.1")

    assert client_address(two_headers, PROXIES) == "198.51.100.1"


def test_when_every_hop_is_a_trusted_proxy_the_left_most_is_the_client() -> None:
    assert client_address(scope("10.0.0.2", "10.1.1.1, 10.0.0.9"), PROXIES) == "10.1.1.1"


def test_a_hop_that_is_not_an_address_ends_the_walk_at_the_last_trusted_one() -> None:
    assert client_address(scope("10.0.0.2", "198.51.100.1, unknown"), PROXIES) == "10.0.0.2"


def test_a_trusted_peer_without_the_header_is_the_client() -> None:
    assert client_address(scope("10.0.0.2"), PROXIES) == "10.0.0.2"


def test_no_peer_means_no_address() -> None:
    assert client_address(scope(None, "198.51.100.1"), PROXIES) is None
