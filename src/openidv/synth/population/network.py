"""Where applications come from: home broadband, carrier-grade NAT on mobile networks (one address for
hundreds of unrelated people), office and campus egress ranges, VPN exits, in-store kiosk tablets.

These are the innocent hubs a "shared identifier means ring" rule trips over."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from openidv.synth.population.draw import below, between, pick
from openidv.synth.population.locales import LOCALES, Locale
from openidv.synth.population.people import hex_id

#: first octets of real public unicast space (no private, loopback, multicast or reserved ranges)
_PUBLIC_FIRST = (
    24,
    31,
    37,
    46,
    62,
    66,
    73,
    78,
    79,
    80,
    81,
    82,
    84,
    86,
    88,
    90,
    92,
    95,
    98,
    108,
    109,
    151,
    176,
    178,
    185,
    188,
    194,
    212,
    213,
    217,
)
CARRIERS_PER_COUNTRY = 3
NAT_ADDRESSES_PER_CARRIER = 24
ISPS_PER_COUNTRY = 4


@dataclass
class Network:
    """Address space handed out per seed: each /24 belongs to one operator (carrier, ISP, office...)."""

    rng: random.Random
    _taken: set[tuple[int, int, int]] = field(default_factory=set)
    _carriers: dict[str, list[list[str]]] = field(default_factory=dict)
    _isps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    _vpn: list[str] = field(default_factory=list)
    _kiosks: dict[str, list[str]] = field(default_factory=dict)
    _numbers: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for loc in LOCALES:
            self._carriers[loc.alpha2] = [self._nat_pool() for _ in range(CARRIERS_PER_COUNTRY)]
            self._isps[loc.alpha2] = [self._slash16() for _ in range(ISPS_PER_COUNTRY)]
            self._kiosks[loc.alpha2] = [device_id(self.rng) for _ in range(6)]
        self._vpn = [ip for _ in range(3) for ip in self.addresses_in(self.slash24(), 12)]

    def _slash16(self) -> tuple[int, int]:
        return pick(self.rng, _PUBLIC_FIRST), below(self.rng, 256)

    def slash24(self, within: tuple[int, int] | None = None) -> tuple[int, int, int]:
        """A /24 nobody else uses."""
        while True:
            a, b = within or self._slash16()
            net = (a, b, below(self.rng, 256))
            if net not in self._taken:
                self._taken.add(net)
                return net

    def addresses_in(self, net: tuple[int, int, int], k: int) -> list[str]:
        """``k`` distinct host addresses in one /24."""
        hosts = self.rng.sample(range(1, 255), k)
        return [f"{net[0]}.{net[1]}.{net[2]}.{h}" for h in hosts]

    def _nat_pool(self) -> list[str]:
        first, second = self.slash24(), self.slash24()
        half = NAT_ADDRESSES_PER_CARRIER // 2
        return self.addresses_in(first, half) + self.addresses_in(second, half)

    def mobile_ip(self, loc: Locale) -> str:
        """A carrier-grade NAT exit: shared by everyone on that carrier at that moment."""
        return pick(self.rng, pick(self.rng, self._carriers[loc.alpha2]))

    def home_ip(self, loc: Locale) -> str:
        """A household's broadband address (its own, inside an ISP's /16)."""
        a, b = pick(self.rng, self._isps[loc.alpha2])
        return f"{a}.{b}.{below(self.rng, 256)}.{between(self.rng, 1, 254)}"

    def any_residential_ip(self) -> str:
        """A residential proxy exit: somebody's home line anywhere (how device farms rotate addresses)."""
        return self.home_ip(pick(self.rng, LOCALES))

    def vpn_ip(self) -> str:
        """A commercial VPN exit, shared by privacy-minded customers and fraudsters alike."""
        return pick(self.rng, self._vpn)

    def kiosk_device(self, loc: Locale) -> str:
        """A shop's tablet on which staff onboard walk-in customers: one device, many honest accounts."""
        return pick(self.rng, self._kiosks[loc.alpha2])

    def number_for(self, loc: Locale, own: str) -> str:
        """The person's mobile number; 1.5% of the time a number the carrier took back from an earlier
        customer and reassigned, so two unrelated people list the same phone."""
        seen = self._numbers.setdefault(loc.alpha2, [])
        if seen and self.rng.random() < 0.015:
            return pick(self.rng, seen)
        if len(seen) < 50_000:
            seen.append(own)
        return own

    def everyday_ip(self, loc: Locale, home: str | None = None) -> str:
        """Where a person applies from on an ordinary day: the phone's carrier, home, or a VPN."""
        roll = self.rng.random()
        if roll < 0.47:
            return self.mobile_ip(loc)
        if roll < 0.95:
            return home or self.home_ip(loc)
        return self.vpn_ip()


def device_id(rng: random.Random) -> str:
    """A device identifier shaped like the ids device SDKs declare (a UUID)."""
    h = hex_id(rng, "", 128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"
