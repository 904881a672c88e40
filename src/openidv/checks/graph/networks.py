"""IP addresses and the network around them: accounts on one /24 (IPv4) or /48 (IPv6) often share an office,
a campus, a data centre or a proxy farm, which one exact address misses when the farm rotates addresses."""

from __future__ import annotations

import ipaddress

from openidv.checks.graph.identifier import Identifier, preview, require_text
from openidv.errors import InvalidInput

IPV4_PREFIX = 24
IPV6_PREFIX = 48  # one site's allocation under RIPE/ARIN policy; /64 would be one LAN of the same customer


def canonical_ip(text: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address, with IPv4-mapped IPv6 read as IPv4 and any zone (``%eth0``) dropped; or InvalidInput."""
    raw = require_text(text, "ip", max_chars=64)
    literal = raw[1:-1] if raw.startswith("[") and raw.endswith("]") else raw
    literal = literal.split("%", 1)[0]  # a zone names the sender's interface, not the address
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        raise InvalidInput(f"ip: {preview(raw)} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def ip_identifiers(text: object) -> list[Identifier]:
    """The ``ip`` identifier and its ``ip24`` network (the /24 for IPv4, the /48 for IPv6)."""
    address = canonical_ip(text)
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return [Identifier("ip", str(address)), Identifier("ip24", str(network))]
