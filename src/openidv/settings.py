"""Deployment settings, read from the environment once per process (12-factor style).

``OPENIDV_DATA_DIR``      where the embedded default keeps its files (SQLite, indexes, keys); default
                          ``~/.local/share/openidv``.
``OPENIDV_DATABASE_URL``  a SQLAlchemy URL (e.g. ``postgresql+psycopg://user@host/db``); default SQLite
                          under the data directory.
``OPENIDV_REDIS_URL``     Redis for velocity counters and device reputation (optional).
``OPENIDV_POLICY``        the policy YAML file; default the packaged policy.
``OPENIDV_MAX_BODY_BYTES`` request body limit for the API (default 64 MiB: up to three photos; JSON
                          verification bodies are separately limited to 64 KiB).
``OPENIDV_LOG_FORMAT``    ``json`` (default: one JSON object per line, with the request id) or ``text``;
                          applied by ``openidv serve``.
``OPENIDV_LOG_LEVEL``     ``INFO`` by default.
``OPENIDV_METRICS``       ``0`` turns ``GET /metrics`` off (it is on, and unauthenticated, by default).
``OPENIDV_RATE_LIMIT``    requests per API key per window (default 600; ``0`` turns rate limits off). Rate
                          limits need ``OPENIDV_REDIS_URL``; without it they are off.
``OPENIDV_RATE_LIMIT_WINDOW_S`` the window in seconds (default 60).
``OPENIDV_RATE_LIMIT_OVERRIDES`` per-key limits, ``<key id>=<n>,<key id>=<n>`` (``0``: no limit for it).
``OPENIDV_RETENTION_VERIFICATIONS_DAYS`` days a verification (its check results, decision, capture
                          fingerprints) is kept before ``openidv purge`` erases it; default 365, ``0`` keeps
                          them forever.
``OPENIDV_RETENTION_TEMPLATES_DAYS`` days a gallery face template is kept; default ``0`` (until erased: an
                          enrolment is a deliberate act with its own lifecycle).
``OPENIDV_RETENTION_LIVENESS_DAYS`` days a liveness session and its frame fingerprints are kept; default 30.
``OPENIDV_RETENTION_DEVICE_DAYS`` days a device's signature and counters live in Redis (or memory) after its
                          last sighting (keys expire); default 90.
                          The audit log is never purged (it holds no personal data).
``OPENIDV_REVIEW_SLA_HOURS`` hours a human review case may stay open before its SLA is breached (default
                          24; ``due_at`` is set when the case opens, docs/review.md).
``OPENIDV_REVIEW_HOLD_REJECTED_DAYS`` days a rejected verification's images are held, sealed, so a contest of
                          the rejection can be reviewed with them (default 30; ``0`` holds nothing).
``OPENIDV_RETENTION_CASE_MEDIA_DAYS`` days the images of a decided review case are kept after its
                          decision; default 90 (``0`` keeps them as long as the verification).
``OPENIDV_RETENTION_TELEMETRY_DAYS`` days a telemetry session (device attributes and behaviour events of the
                          browser collector) is kept; default 30.
``OPENIDV_TELEMETRY_SESSION_TTL_S`` seconds a telemetry session accepts events after ``POST /v1/sessions``;
                          default 3600.
``OPENIDV_COLLECTOR_ORIGINS`` comma-separated origins (``https://onboarding.example.com``) whose pages may
                          post telemetry cross-origin (CORS on ``/v1/sessions/{id}/telemetry`` only);
                          default none (same-origin only). See docs/collector.md.
``OPENIDV_WEBHOOK_ALLOW_PRIVATE`` ``1`` lets webhook endpoints point at loopback, private and link-local
                          addresses (a receiver on the same network); off by default.
``OPENIDV_AUDIT_CHECKPOINTS`` the audit checkpoint file (default ``<data dir>/audit-checkpoints.jsonl``);
                          keep it outside the database (see docs/audit.md).
``OPENIDV_AUDIT_CHECKPOINT_EVERY`` write a checkpoint every n audit entries (default 1; 0: only on
                          ``openidv audit checkpoint``). The audit key itself: ``OPENIDV_AUDIT_KEY``.
``OPENIDV_CONSOLE_IDLE_TIMEOUT_S`` a review-console session ends after this many seconds without a
                          request (default 1800); ``OPENIDV_CONSOLE_SESSION_LIFETIME_S`` ends it anyway
                          (default 43200).
``OPENIDV_CONSOLE_THROTTLE_AFTER`` wrong passwords (per name, per client address) before sign-in is
                          refused for ``OPENIDV_CONSOLE_THROTTLE_BASE_S`` seconds (default 5 and 30),
                          doubling with each further failure up to ``OPENIDV_CONSOLE_THROTTLE_MAX_S``
                          (default 900). See docs/console.md.
``OPENIDV_EVAL_DIRS``      folders (``:``-separated) whose ``report.json`` files and ``gate-history.jsonl``
                          the console's evaluation pages show (default ``runs``, relative to the working
                          directory).
``OPENIDV_CONSOLE_INSECURE_COOKIES`` ``1`` drops the Secure flag of the console's cookies, for plain http on a
                          host other than localhost/127.0.0.1 (testing only; off by default).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from openidv.errors import ConfigurationError

_OFF = ("0", "false", "no", "off")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "openidv"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str | None = None
    redis_url: str | None = None
    policy_path: Path | None = None
    max_body_bytes: int = 64 * 1024 * 1024
    log_format: str = "json"
    log_level: str = "INFO"
    metrics_enabled: bool = True
    rate_limit: int = 600
    rate_limit_window_s: int = 60
    #: (API key id, limit) pairs that replace ``rate_limit`` for those keys
    rate_limit_overrides: tuple[tuple[str, int], ...] = ()
    rate_limit_prefix: str = "openidv:ratelimit:"
    #: days each kind of data is kept (0: forever); ``openidv purge`` enforces them
    retention_verifications_days: int = 365
    retention_templates_days: int = 0
    retention_liveness_days: int = 30
    #: identity-graph accounts (with their links and the values only they held), by when they were added
    retention_graph_days: int = 365
    #: device signatures, band index and velocity counters expire this many days after their last write
    retention_device_days: int = 90
    device_redis_prefix: str = "openidv:device:"
    #: browser collector sessions (device attributes and behaviour events)
    retention_telemetry_days: int = 30
    #: audit copies of external vendor calls (``vendor_calls``: sealed raw answers), by when they were made
    retention_vendor_calls_days: int = 365
    #: images of decided review cases (``case_media``), by when their case was decided
    retention_case_media_days: int = 90
    #: the SLA of a review case: ``due_at`` = opened + this many hours
    review_sla_hours: int = 24
    #: days a rejected verification's images are held so a contest can be reviewed with them (0: none)
    review_hold_rejected_days: int = 30
    #: vendors.yaml (``OPENIDV_VENDORS``): external IDV vendors behind the ``vendor_router`` service; None:
    #: this deployment calls no vendor
    vendors_path: Path | None = None
    telemetry_session_ttl_s: int = 3600
    #: origins allowed to post telemetry cross-origin (exact ``scheme://host[:port]`` strings)
    collector_origins: tuple[str, ...] = ()
    audit_checkpoints: Path | None = None
    audit_checkpoint_every: int = 1
    #: webhooks may target loopback and private addresses (off: tenants must not reach the operator's network)
    webhook_allow_private: bool = False
    #: review console sessions and sign-in throttle (``openidv.services.console_accounts``)
    console_idle_timeout_s: int = 30 * 60
    console_session_lifetime_s: int = 12 * 3600
    console_throttle_after: int = 5
    console_throttle_base_s: int = 30
    console_throttle_max_s: int = 15 * 60
    #: the console's cookies without the Secure flag (plain http off loopback; never in production)
    console_insecure_cookies: bool = False
    #: where the console looks for evaluation reports and gate histories
    eval_dirs: tuple[Path, ...] = (Path("runs"),)

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        data_dir = Path(env["OPENIDV_DATA_DIR"]) if env.get("OPENIDV_DATA_DIR") else _default_data_dir()
        return cls(
            data_dir=data_dir.expanduser(),
            database_url=env.get("OPENIDV_DATABASE_URL") or None,
            redis_url=env.get("OPENIDV_REDIS_URL") or None,
            policy_path=Path(env["OPENIDV_POLICY"]) if env.get("OPENIDV_POLICY") else None,
            max_body_bytes=int(env.get("OPENIDV_MAX_BODY_BYTES", 64 * 1024 * 1024)),
            log_format=_log_format(env.get("OPENIDV_LOG_FORMAT") or "json"),
            log_level=(env.get("OPENIDV_LOG_LEVEL") or "INFO").upper(),
            metrics_enabled=_flag(env, "OPENIDV_METRICS", True),
            rate_limit=_count(env, "OPENIDV_RATE_LIMIT", 600),
            rate_limit_window_s=max(1, _count(env, "OPENIDV_RATE_LIMIT_WINDOW_S", 60)),
            rate_limit_overrides=parse_rate_limit_overrides(env.get("OPENIDV_RATE_LIMIT_OVERRIDES") or ""),
            retention_verifications_days=_count(env, "OPENIDV_RETENTION_VERIFICATIONS_DAYS", 365),
            retention_templates_days=_count(env, "OPENIDV_RETENTION_TEMPLATES_DAYS", 0),
            retention_liveness_days=_count(env, "OPENIDV_RETENTION_LIVENESS_DAYS", 30),
            retention_graph_days=_count(env, "OPENIDV_RETENTION_GRAPH_DAYS", 365),
            retention_device_days=max(1, _count(env, "OPENIDV_RETENTION_DEVICE_DAYS", 90)),
            retention_telemetry_days=_count(env, "OPENIDV_RETENTION_TELEMETRY_DAYS", 30),
            retention_vendor_calls_days=_count(env, "OPENIDV_RETENTION_VENDOR_CALLS_DAYS", 365),
            retention_case_media_days=_count(env, "OPENIDV_RETENTION_CASE_MEDIA_DAYS", 90),
            review_sla_hours=max(1, _count(env, "OPENIDV_REVIEW_SLA_HOURS", 24)),
            review_hold_rejected_days=max(0, _count(env, "OPENIDV_REVIEW_HOLD_REJECTED_DAYS", 30)),
            vendors_path=Path(env["OPENIDV_VENDORS"]).expanduser() if env.get("OPENIDV_VENDORS") else None,
            telemetry_session_ttl_s=max(1, _count(env, "OPENIDV_TELEMETRY_SESSION_TTL_S", 3600)),
            collector_origins=parse_origins(env.get("OPENIDV_COLLECTOR_ORIGINS") or ""),
            audit_checkpoints=(
                Path(env["OPENIDV_AUDIT_CHECKPOINTS"]).expanduser()
                if env.get("OPENIDV_AUDIT_CHECKPOINTS")
                else None
            ),
            audit_checkpoint_every=_count(env, "OPENIDV_AUDIT_CHECKPOINT_EVERY", 1),
            webhook_allow_private=_flag(env, "OPENIDV_WEBHOOK_ALLOW_PRIVATE", False),
            console_idle_timeout_s=max(60, _count(env, "OPENIDV_CONSOLE_IDLE_TIMEOUT_S", 30 * 60)),
            console_session_lifetime_s=max(60, _count(env, "OPENIDV_CONSOLE_SESSION_LIFETIME_S", 12 * 3600)),
            console_throttle_after=max(1, _count(env, "OPENIDV_CONSOLE_THROTTLE_AFTER", 5)),
            console_throttle_base_s=max(1, _count(env, "OPENIDV_CONSOLE_THROTTLE_BASE_S", 30)),
            console_throttle_max_s=max(1, _count(env, "OPENIDV_CONSOLE_THROTTLE_MAX_S", 15 * 60)),
            console_insecure_cookies=_flag(env, "OPENIDV_CONSOLE_INSECURE_COOKIES", False),
            eval_dirs=tuple(
                Path(p).expanduser() for p in (env.get("OPENIDV_EVAL_DIRS") or "runs").split(":") if p.strip()
            ),
        )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'openidv.sqlite3'}"


def _log_format(value: str) -> str:
    value = value.strip().lower()
    if value not in ("json", "text"):
        raise ConfigurationError(f"OPENIDV_LOG_FORMAT must be json or text, not {value!r}")
    return value


def _flag(env: os._Environ[str], name: str, default: bool) -> bool:
    text = (env.get(name) or "").strip().lower()
    if not text:
        return default
    return text not in ("0", "false", "no", "off")


def _count(env: os._Environ[str], name: str, default: int) -> int:
    text = (env.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ConfigurationError(f"{name} must be a whole number >= 0, not {text!r}")
    return int(text)


def parse_origins(text: str) -> tuple[str, ...]:
    """``"https://a.example, http://localhost:8080"`` -> exact origins (no path, no trailing slash)."""
    origins = []
    for entry in (e.strip().rstrip("/") for e in text.split(",")):
        if not entry:
            continue
        scheme, sep, rest = entry.partition("://")
        if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
            raise ConfigurationError(
                f"OPENIDV_COLLECTOR_ORIGINS: {entry!r} is not an origin like https://onboarding.example.com"
            )
        origins.append(entry)
    return tuple(origins)


def parse_rate_limit_overrides(text: str) -> tuple[tuple[str, int], ...]:
    """``"<key id>=<n>,<key id>=<n>"`` -> ((key id, n), ...); a malformed entry: ``ConfigurationError``."""
    pairs = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        key_id, sep, limit = entry.partition("=")
        if not sep or not key_id.strip() or not limit.strip().isdigit():
            raise ConfigurationError(f"OPENIDV_RATE_LIMIT_OVERRIDES: expected <key id>=<n>, got {entry!r}")
        pairs.append((key_id.strip(), int(limit)))
    return tuple(pairs)
