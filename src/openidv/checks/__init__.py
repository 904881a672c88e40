"""Checks: each turns evidence into a CheckResult. See ``openidv.checks.base.Check``."""

from openidv.checks.base import Check
from openidv.checks.registry import check_names, create_check, get_check_class, register_check

__all__ = ["Check", "check_names", "create_check", "get_check_class", "register_check"]
