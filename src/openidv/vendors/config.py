"""``vendors.yaml``: which vendors exist, how to reach them, what they cost and serve, and how to route.

Credentials never sit in the file: ``credentials_env`` names environment variables read when the adapter
is built. Everything else is validated here (unknown keys are errors), so a typo fails at start-up with
the key named, not at the first call.

    vendors:
      acme:
        adapter: simulated                 # the adapter kind (openidv.vendors.adapters)
        endpoint: http://127.0.0.1:8701
        credentials_env: {api_key: ACME_API_KEY}
        capabilities: [document, face_match]
        countries: [GB, DE, FR]            # issuers served (ISO alpha-2); empty: all
        document_types: [passport, id_card]
        timeout_s: 2.0
        retries: 1
        cost_per_call: 0.60
        currency: EUR
        circuit: {failures: 5, window_s: 30, open_s: 15}
        reason_codes: {DOC_TAMPERED: DOCUMENT_TAMPERED}   # vendor code -> our catalogue's code
        options: {}                        # adapter-specific settings (the simulated vendor's accuracy...)
    routing:
      floors: {document: {metric: recall_at_fpr_1e-2, min: 0.9}}
      benchmark: runs/vendors/scorecard.json   # measured accuracy per vendor and slice (vendors benchmark)
      exploration: 0.05
      shadow: []                            # vendors scored in parallel, never deciding
      consensus: {capabilities: [], min_vendors: 2}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openidv.errors import ConfigurationError
from openidv.vendors.protocol import Capability


class Circuit(BaseModel):
    """Open the circuit after ``failures`` technical faults within ``window_s``; stay open ``open_s``,
    then let one trial call through (half-open)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    failures: int = Field(default=5, ge=1, le=10_000)
    window_s: float = Field(default=30.0, gt=0, le=86_400)
    open_s: float = Field(default=15.0, gt=0, le=86_400)


class VendorConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    adapter: str = Field(min_length=1, max_length=64)
    endpoint: str = Field(min_length=1, max_length=2048)
    credentials_env: dict[str, str] = Field(default_factory=dict)
    capabilities: tuple[Capability, ...] = Field(min_length=1)
    countries: tuple[str, ...] = ()  # empty: every country
    document_types: tuple[str, ...] = ()  # empty: every document type
    timeout_s: float = Field(default=5.0, gt=0, le=300)
    retries: int = Field(default=1, ge=0, le=10)
    backoff_s: float = Field(default=0.1, ge=0, le=60)
    cost_per_call: float = Field(default=0.0, ge=0)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    circuit: Circuit = Circuit()
    reason_codes: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("countries")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.upper() for v in value)

    def serves(self, capability: Capability, country: str | None, document_type: str | None) -> bool:
        return (
            capability in self.capabilities
            and (not self.countries or (country or "").upper() in self.countries)
            and (not self.document_types or document_type in self.document_types)
        )

    def credentials(self, name: str) -> dict[str, str]:
        """The credentials from the environment; a missing variable is a configuration error naming it."""
        missing = [env for env in self.credentials_env.values() if not os.environ.get(env)]
        if missing:
            raise ConfigurationError(f"vendors.{name}.credentials_env: {', '.join(missing)} not set")
        return {key: os.environ[env] for key, env in self.credentials_env.items()}


class Floor(BaseModel):
    """A vendor below ``min`` on ``metric`` (measured on the owned set, per capability and slice) is not
    routed to for that slice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(min_length=1, max_length=64)
    min: float


class Consensus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    capabilities: tuple[Capability, ...] = ()
    min_vendors: int = Field(default=2, ge=2, le=10)


class RoutingConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    floors: dict[Capability, Floor] = Field(default_factory=dict)
    #: the scorecard (``openidv vendors benchmark``) that floors read; relative to vendors.yaml
    benchmark: str | None = None
    #: share of calls routed to another vendor inside the floors, to keep measuring it
    exploration: float = Field(default=0.0, ge=0.0, le=0.5)
    shadow: tuple[str, ...] = ()
    consensus: Consensus = Consensus()
    #: cost vs latency: score = cost_per_call + latency_weight * p50 latency (s)
    latency_weight: float = Field(default=0.0, ge=0.0)


class VendorsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    vendors: dict[str, VendorConfig] = Field(min_length=1)
    routing: RoutingConfig = RoutingConfig()


def load_vendors(path: str | Path) -> VendorsFile:
    """Read and validate ``vendors.yaml``; a bad file is one ``ConfigurationError`` naming the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not YAML ({exc})") from None
    try:
        parsed = VendorsFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigurationError(f"{path}: {where}: {first.get('msg', 'invalid value')}") from None
    unknown = [v for v in parsed.routing.shadow if v not in parsed.vendors]
    if unknown:
        raise ConfigurationError(f"{path}: routing.shadow: unknown vendor(s) {', '.join(unknown)}")
    return parsed
