"""Adapter registry: the ``adapter:`` kind named in vendors.yaml -> the class that speaks that vendor's API.

Why a dict of import paths rather than imports: an adapter's module is loaded only when a configured vendor
uses it, and a new kind (``simulated``, another real vendor) is one added line, so parallel work merges
without conflicts. Every adapter class is built as ``cls(name, config)`` and satisfies
``openidv.vendors.protocol.VendorAdapter``.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from openidv.errors import ConfigurationError
from openidv.vendors.config import VendorConfig
from openidv.vendors.protocol import VendorAdapter

#: adapter kind -> "module:Class"; keep it additive (one line per kind)
KINDS: dict[str, str] = {
    "onfido": "openidv.vendors.adapters.onfido:OnfidoAdapter",
    "veriff": "openidv.vendors.adapters.veriff:VeriffAdapter",
}


def adapter_for(name: str, config: VendorConfig) -> VendorAdapter:
    """Build the adapter for the configured vendor ``name``; an unknown kind is a configuration error."""
    target = KINDS.get(config.adapter)
    if target is None:
        known = ", ".join(sorted(KINDS))
        raise ConfigurationError(f"vendors.{name}.adapter: unknown adapter {config.adapter!r}; use {known}")
    module_name, _, class_name = target.partition(":")
    cls: Any = getattr(importlib.import_module(module_name), class_name)
    return cast(VendorAdapter, cls(name, config))
