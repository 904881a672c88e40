"""Parameters of the ``device`` check (pydantic only: the policy validates them
without importing the check)."""

from __future__ import annotations

from pydantic import Field, field_validator

from openidv.checks.base import CheckParams

#: how much each flag adds to the score (noisy-OR: score = 1 - prod(1 - weight) over the flags raised);
#: hand-set, not learned: no labelled device-fraud data exists to fit them (docs/device.md)
DEFAULT_WEIGHTS: dict[str, float] = {
    "webdriver": 0.95,
    "headless": 0.9,
    "driver_globals": 0.95,
    "no_plugins": 0.2,
    "no_chrome_object": 0.3,
    "permissions_inconsistent": 0.3,
    "software_renderer": 0.4,
    "virtual_machine": 0.6,
    "android_emulator": 0.8,
    "mobile_desktop_gpu": 0.6,
    "ua_platform_mismatch": 0.6,
    "ua_client_hints_mismatch": 0.6,
    "mobile_without_touch": 0.5,
    "mobile_desktop_screen": 0.4,
    "mobile_mouse_pointer": 0.5,
    "touch_without_touch_points": 0.4,
    "desktop_ua_touch_only": 0.2,
    "timezone_country_mismatch": 0.3,
    "no_languages": 0.3,
    "velocity_accounts": 0.7,
    "velocity_failures": 0.6,
    "velocity_countries": 0.5,
}


class DeviceParams(CheckParams):
    """Device identity matching, velocity limits and the score's flag weights.

    A velocity flag is raised when a count *exceeds* its limit (the applicant's own attempt included): the
    limits are counts of events, not score thresholds, so they live here like ``mrz``'s ``min_age``.
    """

    #: stable attributes needed to identify a device at all (fewer: signals only, no id, no velocity)
    min_attributes: int = Field(default=4, ge=1, le=13)
    #: weighted attribute agreement at which a stored device is the same device (0..1)
    min_similarity: float = Field(default=0.8, ge=0.5, le=1.0)
    #: stable attributes that must agree for a match (no update changes them: fingerprint.FIXED_ATTRIBUTES)
    fixed_attributes: tuple[str, ...] = ("cores", "memory", "platform", "timezone", "touch_points", "family")
    #: least Jaccard overlap of the font sets for a match (an update adds or drops a font, never the set)
    min_font_overlap: float = Field(default=0.6, ge=0.0, le=1.0)
    #: most distinct accounts one device may open in 24 hours (this one included)
    max_accounts_per_day: int = Field(default=3, ge=1, le=1_000_000)
    #: most rejected verifications a device may have within ``window_days`` before this one
    max_failures: int = Field(default=3, ge=0, le=1_000_000)
    #: most distinct declared countries one device may show within ``window_days`` (this one included)
    max_countries: int = Field(default=2, ge=1, le=300)
    #: the window of the failure and country counts, days (the retention of the data is the service's)
    window_days: int = Field(default=30, ge=1, le=3650)
    #: weight of each flag in the score (0..1 each); 0 or absent turns the flag off (no reason code either)
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    @field_validator("weights")
    @classmethod
    def _probabilities(cls, weights: dict[str, float]) -> dict[str, float]:
        bad = [k for k, w in weights.items() if not 0.0 <= w <= 1.0]
        if bad:
            raise ValueError(f"weights must be between 0 and 1 ({', '.join(bad)})")
        return weights

    #: stored candidates read per lookup at most (bounds latency on a device shared by many signatures)
    max_candidates: int = Field(default=32, ge=1, le=1000)
