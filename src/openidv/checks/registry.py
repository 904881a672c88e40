"""Check registry: name -> check class.

Built-in checks are listed by import path and imported on first use, so that a process that only parses
MRZs never loads a face model. Third-party checks call ``register_check``.
"""

from __future__ import annotations

import importlib
from typing import Any

from openidv.checks.base import Check

_BUILTIN: dict[str, str] = {
    "mrz": "openidv.checks.document.mrz_check:MrzCheck",
}
_loaded: dict[str, type[Check]] = {}


def register_check(cls: type[Check], *, replace: bool = False) -> type[Check]:
    """Make ``cls`` available under ``cls.name`` to policies, the pipeline and ``openidv eval``."""
    if not replace and (cls.name in _loaded or cls.name in _BUILTIN):
        raise ValueError(f"a check named {cls.name!r} is already registered")
    _loaded[cls.name] = cls
    return cls


def unregister_check(name: str) -> None:
    _loaded.pop(name, None)


def check_names() -> list[str]:
    return sorted(set(_BUILTIN) | set(_loaded))


def get_check_class(name: str) -> type[Check]:
    if name in _loaded:
        return _loaded[name]
    if name not in _BUILTIN:
        raise KeyError(f"unknown check {name!r}; known checks: {', '.join(check_names())}")
    module_name, _, attr = _BUILTIN[name].partition(":")
    cls: type[Check] = getattr(importlib.import_module(module_name), attr)
    _loaded[name] = cls
    return cls


def create_check(name: str, params: dict[str, Any] | None = None) -> Check:
    return get_check_class(name)(**(params or {}))
