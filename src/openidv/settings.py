"""Deployment settings, read from the environment once per process (12-factor style).

``OPENIDV_DATA_DIR``      where the embedded default keeps its files (SQLite, indexes, keys); default
                          ``~/.local/share/openidv``.
``OPENIDV_DATABASE_URL``  a SQLAlchemy URL (e.g. ``postgresql+psycopg://user@host/db``); default SQLite
                          under the data directory.
``OPENIDV_REDIS_URL``     Redis for velocity counters and device reputation (optional).
``OPENIDV_POLICY``        the policy YAML file; default the packaged policy.
``OPENIDV_MAX_BODY_BYTES`` request body limit for the API (default 64 MiB: up to three photos; JSON
                          verification bodies are separately limited to 64 KiB).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


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
        )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'openidv.sqlite3'}"
