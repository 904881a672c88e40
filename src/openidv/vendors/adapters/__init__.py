"""Vendor adapters by kind (the ``adapter:`` of vendors.yaml), imported on first use.

Why a dict of import paths rather than imports: an adapter's module is loaded only when a configured vendor
uses it, and a new kind is one added line. Adding a vendor: write a class honouring
``openidv.vendors.protocol.VendorAdapter`` (``kind``, ``name``, ``async call(request, client)``) whose
constructor takes ``(name, config)``, and list it here.
"""

from __future__ import annotations

import importlib
from typing import Any

from openidv.errors import ConfigurationError
from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import VendorAdapter

#: kind -> "module:Class"; keep it additive (one line per kind)
ADAPTERS: dict[str, str] = {
    "simulated": "openidv.vendors.adapters.simulated:SimulatedAdapter",
    "onfido": "openidv.vendors.adapters.onfido:OnfidoAdapter",
    "veriff": "openidv.vendors.adapters.veriff:VeriffAdapter",
}
KINDS = ADAPTERS  # the name the benchmark uses


def build_adapter(name: str, config: VendorConfig) -> VendorAdapter:
    """The adapter for one configured vendor; an unknown kind is a configuration error naming the kinds."""
    path = ADAPTERS.get(config.adapter)
    if path is None:
        known = ", ".join(sorted(ADAPTERS))
        raise ConfigurationError(f"vendors.{name}.adapter: unknown adapter {config.adapter!r}; use {known}")
    module, _, attr = path.partition(":")
    cls: Any = getattr(importlib.import_module(module), attr)
    adapter: VendorAdapter = cls(name, config)
    return adapter


adapter_for = build_adapter
