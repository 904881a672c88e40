"""Errors that edges (CLI, API) turn into clear messages: exit 2, or HTTP 4xx problem+json."""

from __future__ import annotations

from contextvars import ContextVar


class OpenIDVError(Exception):
    """Base class for errors openidv raises on purpose."""


class InvalidInput(OpenIDVError):
    """The caller sent something we cannot use; the message says what, in one line."""


class PolicyError(OpenIDVError):
    """A policy file failed validation; the message names the offending key."""


class NotFound(OpenIDVError):
    """A referenced object (verification, key, gallery entry) does not exist."""


class Conflict(OpenIDVError):
    """The request conflicts with stored state (e.g. an idempotency key reused with another body)."""


class PermissionDenied(OpenIDVError):
    """The caller is known but may not do this (a reviewer's role, four eyes); the API answers 403."""


class ConfigurationError(OpenIDVError):
    """The deployment is missing something it needs (a key, a URL, a model file)."""


class BodyTooLarge(OpenIDVError):
    """A request body exceeded the configured size limit."""


#: the id of the HTTP request being served (the API sets it per request and hands it to the threads that
#: run the checks), so an unexpected error is logged with it while the caller sees only a generic message
REQUEST_ID: ContextVar[str | None] = ContextVar("openidv_request_id", default=None)
