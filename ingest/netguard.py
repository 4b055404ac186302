"""Keep feed fetches off private networks (SSRF): `address_kind` and `socket_guard`.

A feed URL is written by whoever edits the config or an OPML file, and a feed server picks where
its redirects go; neither may make ingest reach the metadata service (169.254.169.254), the
broker, or anything else on loopback or a private network. The check must see the address that
is actually connected to, after DNS resolution (a public name may resolve to 10.0.0.5) and for
every hop of a redirect, so it sits where sockets are made: `guarded_socket` is an aiohttp
`TCPConnector(socket_factory=...)`, called with each resolved address before connecting, for IP
literals and names alike.
"""

import ipaddress
import socket
from collections.abc import Callable, Collection
from typing import Any

#: Shared address space (RFC 6598, carrier-grade NAT) is not global yet Python calls it neither
#: private nor reserved on every version: named here so the rule does not depend on the version.
_EXTRA_BLOCKED = (ipaddress.ip_network("100.64.0.0/10"),)


class AddressRefused(OSError):
    """A connection to a non-public address was refused (an OSError, so aiohttp wraps it)."""

    def __init__(self, address: str, kind: str) -> None:
        super().__init__(f"{address} is a {kind} address (ingest.allow_private_networks is off)")
        self.address = address
        self.kind = kind


def address_kind(address: str) -> str | None:
    """Why `address` is not a public unicast address (`loopback`, `private`, ...), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private or any(ip in net for net in _EXTRA_BLOCKED):
        return "private"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "reserved"
    return None


SocketFactory = Callable[[tuple[Any, ...]], socket.socket]


def socket_guard(exempt: Collection[str] = ()) -> SocketFactory:
    """An aiohttp socket factory refusing non-public addresses except those in `exempt`."""

    def guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _canonname, sockaddr = addr_info
        address = str(sockaddr[0])
        kind = None if address in exempt else address_kind(address)
        if kind is not None:
            raise AddressRefused(address, kind)
        return socket.socket(family=family, type=type_, proto=proto)

    return guarded_socket


#: The guard ingest uses: no exemptions.
guarded_socket = socket_guard()
