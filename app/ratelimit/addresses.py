"""The client address of a request: the TCP peer, or, when the peer is one of the configured
trusted proxies (`SWITCHBOARD_TRUSTED_PROXIES`), the nearest untrusted address of its
`X-Forwarded-For` chain. From any other peer the header is ignored, so a client cannot pick
its own address. Every limit keyed by address uses this one function.

uvicorn's own proxy-header handling is turned off where the service is served (`python -m app
serve`), so the peer seen here is the real TCP peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


class ClientAddresses:
    """Reads client addresses, trusting `X-Forwarded-For` only from `trusted` networks."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(t, strict=False) for t in trusted
        )

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def of(self, connection: HTTPConnection) -> str:
        """The client address of `connection` (an HTTP request or a WebSocket)."""
        peer = connection.client.host if connection.client else UNKNOWN
        if not self.trusted or not self._is_trusted(peer):
            return peer
        hops = [
            hop.strip()
            for header in connection.headers.getlist("x-forwarded-for")
            for hop in header.split(",")
        ]
        client = peer
        # From the nearest hop outwards: each trusted proxy vouches for the hop before it.
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # a malformed entry: nothing before it can be believed
            client = hop
            if not self._is_trusted(hop):
                break
        return client
