"""Policy: a versioned YAML file of per-check parameters, tuned thresholds and decision rules.

Thresholds are written by ``openidv thresholds tune`` (never hard-coded); rules map check results to
approve / review / reject. The outcome is the most severe outcome among the rules that fire, or the
policy's ``default`` when none does. Validation on load names the offending key, e.g.
``rules[2].when.score.op: bad operator '=>'``.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from openidv.checks.registry import check_names
from openidv.decision.reason_codes import is_known
from openidv.errors import PolicyError
from openidv.results import CheckResult, Decision, FiredRule, Outcome, Status

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_WHEN_KEYS = {"check", "status", "score", "reason_code", "reason_codes", "missing"}
_TOP_KEYS = {"version", "description", "checks", "rules", "default"}
_CHECK_KEYS = {"params", "thresholds"}


@dataclass(frozen=True)
class Threshold:
    """A tuned threshold and the operating point it was tuned for."""

    value: float
    target: str | None = None
    achieved: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    tuned_at: str | None = None


@dataclass(frozen=True)
class CheckConfig:
    params: Mapping[str, Any] = field(default_factory=dict)
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)


@dataclass(frozen=True)
class Condition:
    """All present parts must hold (logical AND)."""

    check: str | None = None
    status: Status | None = None
    score_op: str | None = None
    score_threshold: str | None = None
    reason_codes: tuple[str, ...] = ()
    missing: bool | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    when: Condition
    outcome: Outcome
    reason_code: str | None = None


@dataclass(frozen=True)
class ThresholdVerdict:
    """A score judged against one of the policy's thresholds, the way the policy's rules judge it.

    ``holds`` is True when the score condition of the rules that read this threshold holds: for
    ``face_match``'s ``match`` (rule ``score < match``) it means a mismatch; for an ``attack`` threshold
    (``score >= attack``) it means an attack.
    """

    check: str
    threshold: str
    value: float
    op: str
    score: float
    holds: bool
    rules: tuple[str, ...]
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "value": self.value,
            "op": self.op,
            "holds": self.holds,
            "rules": list(self.rules),
            "target": self.target,
        }


def crosses(score: float, op: str, value: float) -> bool:
    """The one comparison of a score with a threshold; rules and every caller go through it."""
    return OPERATORS[op](score, value)


@dataclass(frozen=True)
class Policy:
    version: str
    checks: Mapping[str, CheckConfig]
    rules: tuple[Rule, ...]
    default: Outcome = Outcome.APPROVE
    description: str = ""
    path: Path | None = None

    def threshold(self, check: str, name: str) -> Threshold:
        return self.checks[check].thresholds[name]

    def params(self, check: str) -> dict[str, Any]:
        """The parameters the policy sets for a check (empty when it sets none)."""
        cfg = self.checks.get(check)
        return dict(cfg.params) if cfg else {}

    def rules_reading(self, check: str, name: str) -> tuple[Rule, ...]:
        """The rules whose score condition reads ``checks.<check>.thresholds.<name>``."""
        return tuple(
            r for r in self.rules if r.when.check == check and r.when.score_threshold == name
        )

    def judge_score(self, check: str, name: str, score: float) -> ThresholdVerdict:
        """Judge a score against a threshold with the operator of the rules that read it.

        Raises ``PolicyError`` when the policy defines no such threshold or no rule reads it: a threshold
        nobody reads decides nothing, and saying so is better than a silent default.
        """
        cfg = self.checks.get(check)
        if cfg is None or name not in cfg.thresholds:
            raise PolicyError(
                f"checks.{check}.thresholds.{name}: not in policy {self.version}; "
                "run `openidv thresholds tune` to set it"
            )
        rules = self.rules_reading(check, name)
        if not rules:
            raise PolicyError(f"checks.{check}.thresholds.{name}: no rule of policy {self.version} reads it")
        ops = {r.when.score_op for r in rules}
        if len(ops) != 1:
            raise PolicyError(
                f"checks.{check}.thresholds.{name}: rules {', '.join(r.name for r in rules)} compare it "
                f"with different operators ({', '.join(sorted(str(o) for o in ops))})"
            )
        op = str(rules[0].when.score_op)
        tuned = cfg.thresholds[name]
        return ThresholdVerdict(
            check=check,
            threshold=name,
            value=tuned.value,
            op=op,
            score=float(score),
            holds=crosses(float(score), op, tuned.value),
            rules=tuple(r.name for r in rules),
            target=tuned.target,
        )

    def judge(self, result: CheckResult, name: str) -> ThresholdVerdict | None:
        """``judge_score`` for a check result; None when the result has no usable score."""
        if result.status != Status.OK or result.score is None:
            return None
        return self.judge_score(result.check, name, result.score)

    def decide(self, results: Sequence[CheckResult]) -> Decision:
        """Apply the rules to a set of results; every reason code ends up on the decision."""
        if not results:  # nothing was checked: never approve by default
            return Decision(
                outcome=Outcome.REVIEW,
                reason_codes=("NO_EVIDENCE",),
                policy_version=self.version,
                fired_rules=(
                    FiredRule(rule="no-evidence", outcome=Outcome.REVIEW, reason_codes=("NO_EVIDENCE",)),
                ),
            )
        by_check = {r.check: r for r in results}
        fired: list[FiredRule] = []
        for rule in self.rules:
            matched_codes = self._match(rule.when, by_check, results)
            if matched_codes is None:
                continue
            codes = (rule.reason_code,) if rule.reason_code else matched_codes
            fired.append(FiredRule(rule=rule.name, outcome=rule.outcome, reason_codes=codes))
        outcome = max((f.outcome for f in fired), key=lambda o: o.severity, default=self.default)
        all_codes: dict[str, None] = {}
        for f in sorted(fired, key=lambda f: -f.outcome.severity):
            all_codes.update(dict.fromkeys(f.reason_codes))
        for r in results:
            all_codes.update(dict.fromkeys(r.reason_codes))
        return Decision(
            outcome=outcome,
            reason_codes=tuple(all_codes),
            policy_version=self.version,
            fired_rules=tuple(fired),
        )

    def _match(
        self, when: Condition, by_check: Mapping[str, CheckResult], results: Sequence[CheckResult]
    ) -> tuple[str, ...] | None:
        """Return the reason codes the condition matched on (maybe empty), or None when it does not hold."""
        if when.missing is not None:
            if (when.check in by_check) == when.missing:
                return None
            if when.missing:
                return ("CHECK_NOT_APPLICABLE",)
        if when.check is None:
            candidates = list(results)
        else:
            candidates = [by_check[when.check]] if when.check in by_check else []
        hits = [r for r in candidates if self._holds(when, r)]
        if not hits:
            return None
        codes = [c for r in hits for c in r.reason_codes if not when.reason_codes or c in when.reason_codes]
        return tuple(dict.fromkeys(codes))

    def _holds(self, when: Condition, result: CheckResult) -> bool:
        if when.status is not None and result.status != when.status:
            return False
        if when.score_op is not None:
            if result.status != Status.OK or result.score is None:
                return False
            assert when.check is not None and when.score_threshold is not None
            limit = self.threshold(when.check, when.score_threshold).value
            if not crosses(result.score, when.score_op, limit):
                return False
        return not when.reason_codes or any(c in when.reason_codes for c in result.reason_codes)


# ---------------------------------------------------------------- loading and validation


def default_policy_path() -> Path:
    return Path(str(resources.files("openidv.decision").joinpath("default_policy.yaml")))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load and validate a policy; ``None`` means ``$OPENIDV_POLICY`` or the packaged default."""
    chosen = Path(path) if path else Path(os.environ.get("OPENIDV_POLICY") or default_policy_path())
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {chosen}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{chosen}: not valid YAML: {exc}") from None
    return parse_policy(raw, path=chosen)


def parse_policy(raw: Any, path: Path | None = None) -> Policy:
    where = f"{path}: " if path else ""
    try:
        return _parse(raw, path)
    except PolicyError as exc:
        raise PolicyError(f"{where}{exc}") from None


def _parse(raw: Any, path: Path | None) -> Policy:
    if not isinstance(raw, dict):
        raise PolicyError("a policy is a mapping with version, checks and rules")
    _no_unknown_keys(raw, _TOP_KEYS, "")
    version = raw.get("version")
    if not isinstance(version, str | int | float) or not str(version).strip():
        raise PolicyError("version: missing; every policy carries a version string")
    known = set(check_names())
    checks_raw = raw.get("checks") or {}
    if not isinstance(checks_raw, dict):
        raise PolicyError("checks: must be a mapping of check name to its settings")
    checks: dict[str, CheckConfig] = {}
    for name, settings in checks_raw.items():
        if name not in known:
            raise PolicyError(f"checks.{name}: unknown check; known checks: {', '.join(sorted(known))}")
        checks[name] = _parse_check(name, settings or {})
    rules_raw = raw.get("rules") or []
    if not isinstance(rules_raw, list):
        raise PolicyError("rules: must be a list")
    rules = tuple(_parse_rule(i, r, checks) for i, r in enumerate(rules_raw))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PolicyError(f"rules: duplicate rule name(s) {', '.join(duplicates)}")
    return Policy(
        version=str(version),
        checks=checks,
        rules=rules,
        default=_outcome(raw.get("default", "approve"), "default"),
        description=str(raw.get("description", "")),
        path=path,
    )


def _parse_check(name: str, settings: Any) -> CheckConfig:
    if not isinstance(settings, dict):
        raise PolicyError(f"checks.{name}: must be a mapping with params and thresholds")
    _no_unknown_keys(settings, _CHECK_KEYS, f"checks.{name}.")
    params = settings.get("params") or {}
    if not isinstance(params, dict):
        raise PolicyError(f"checks.{name}.params: must be a mapping")
    from openidv.checks.registry import get_check_class

    accepted = get_check_class(name).params_schema
    for key in params:
        if key not in accepted:
            choices = ", ".join(sorted(accepted)) or "none"
            raise PolicyError(f"checks.{name}.params.{key}: unknown parameter; accepted: {choices}")
    thresholds: dict[str, Threshold] = {}
    for tname, traw in (settings.get("thresholds") or {}).items():
        key = f"checks.{name}.thresholds.{tname}"
        if not isinstance(traw, dict) or "value" not in traw or traw["value"] is None:
            raise PolicyError(f"{key}: missing threshold value; run `openidv thresholds tune` to set it")
        try:
            value = float(traw["value"])
        except (TypeError, ValueError):
            raise PolicyError(f"{key}.value: not a number: {traw['value']!r}") from None
        thresholds[tname] = Threshold(
            value=value,
            target=traw.get("target"),
            achieved=traw.get("achieved") or {},
            source=traw.get("source"),
            tuned_at=traw.get("tuned_at"),
        )
    return CheckConfig(params=params, thresholds=thresholds)


def _parse_rule(index: int, raw: Any, checks: Mapping[str, CheckConfig]) -> Rule:
    key = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise PolicyError(f"{key}: a rule is a mapping with name, when and outcome")
    _no_unknown_keys(raw, {"name", "when", "outcome", "reason_code"}, f"{key}.")
    name = str(raw.get("name") or f"rule-{index}")
    when_raw = raw.get("when")
    if not isinstance(when_raw, dict) or not when_raw:
        raise PolicyError(f"{key}.when: missing condition")
    _no_unknown_keys(when_raw, _WHEN_KEYS, f"{key}.when.")
    check = when_raw.get("check")
    if check is not None and check not in checks:
        raise PolicyError(f"{key}.when.check: check {check!r} is not configured under checks:")
    status = None
    if "status" in when_raw:
        try:
            status = Status(when_raw["status"])
        except ValueError:
            choices = ", ".join(s.value for s in Status)
            raise PolicyError(
                f"{key}.when.status: unknown status {when_raw['status']!r}; use {choices}"
            ) from None
    score_op = score_threshold = None
    if "score" in when_raw:
        score = when_raw["score"]
        if check is None:
            raise PolicyError(f"{key}.when.score: a score condition needs `check`")
        if not isinstance(score, dict):
            raise PolicyError(f"{key}.when.score: must be a mapping with op and threshold")
        _no_unknown_keys(score, {"op", "threshold"}, f"{key}.when.score.")
        score_op = score.get("op")
        if score_op not in OPERATORS:
            raise PolicyError(
                f"{key}.when.score.op: bad operator {score_op!r}; use one of {', '.join(OPERATORS)}"
            )
        score_threshold = score.get("threshold")
        if score_threshold not in checks[check].thresholds:
            raise PolicyError(
                f"{key}.when.score.threshold: missing threshold {score_threshold!r} for check {check!r}; "
                f"define checks.{check}.thresholds.{score_threshold} (openidv thresholds tune writes it)"
            )
    codes = when_raw.get("reason_codes") or []
    if "reason_code" in when_raw:
        codes = [when_raw["reason_code"], *codes]
    for code in codes:
        if not is_known(code):
            raise PolicyError(f"{key}.when: unknown reason code {code!r} (not in the catalogue)")
    missing = when_raw.get("missing")
    if missing is not None and check is None:
        raise PolicyError(f"{key}.when.missing: needs `check`")
    reason_code = raw.get("reason_code")
    if reason_code is not None and not is_known(reason_code):
        raise PolicyError(f"{key}.reason_code: unknown reason code {reason_code!r} (not in the catalogue)")
    return Rule(
        name=name,
        when=Condition(
            check=check,
            status=status,
            score_op=score_op,
            score_threshold=score_threshold,
            reason_codes=tuple(codes),
            missing=bool(missing) if missing is not None else None,
        ),
        outcome=_outcome(raw.get("outcome"), f"{key}.outcome"),
        reason_code=reason_code,
    )


def _outcome(value: Any, key: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise PolicyError(f"{key}: unknown outcome {value!r}; use approve, review or reject") from None


def _no_unknown_keys(raw: Mapping[str, Any], allowed: Iterable[str], prefix: str) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise PolicyError(f"{prefix}{unknown[0]}: unknown key; allowed: {', '.join(sorted(allowed))}")


# ---------------------------------------------------------------- writing tuned thresholds


def write_threshold(
    path: str | Path,
    check: str,
    name: str,
    value: float,
    *,
    target: str | None,
    achieved: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> Policy:
    """Set ``checks.<check>.thresholds.<name>`` in a policy file and bump its version.

    The YAML is edited round-trip (comments, order and layout stay as the author wrote them), validated
    before and after, and replaced atomically, so a failed write leaves the old policy in place.
    """
    path = Path(path)
    source_text = (path if path.exists() else default_policy_path()).read_text(encoding="utf-8")
    editor = _round_trip_yaml()
    raw = editor.load(source_text)
    parse_policy(raw, path)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    checks = raw.setdefault("checks", {})
    if checks.get(check) is None:
        checks[check] = {}
    thresholds = checks[check].setdefault("thresholds", {})
    thresholds[name] = {
        "value": float(value),
        "target": target,
        "achieved": dict(achieved or {}),
        "source": source,
        "tuned_at": stamp,
    }
    raw["version"] = _bump(str(raw.get("version", "0")), stamp)
    policy = parse_policy(raw, path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        editor.dump(raw, handle)
    tmp.replace(path)
    return replace(policy, path=path)


def _round_trip_yaml() -> Any:
    from ruamel.yaml import YAML

    editor = YAML(typ="rt")
    editor.preserve_quotes = True
    editor.width = 110
    editor.indent(mapping=2, sequence=4, offset=2)
    return editor


def _bump(version: str, stamp: str) -> str:
    base = version.split("+tuned.")[0]
    return f"{base}+tuned.{stamp}"
