"""Policy: a versioned YAML file of per-check parameters, tuned thresholds and decision rules.

Thresholds are written by ``openidv thresholds tune`` (never hard-coded); rules map check results to
approve / review / reject. The outcome is the most severe outcome among the rules that fire, or the
policy's ``default`` when none does. Validation on load names the offending key, e.g.
``rules[2].when.score.op: bad operator '=>'``.
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from openidv.checks.registry import check_names, params_model
from openidv.decision.reason_codes import is_known
from openidv.errors import PolicyError
from openidv.results import CheckResult, Decision, FiredRule, Outcome, Status

_log = logging.getLogger("openidv.policy")

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


#: what a threshold's data says about its target: ``supported`` (the data it was tuned on supports the
#: target, rule of three), ``unsupported`` (tuning was forced to a target the data cannot support: every
#: consumer warns), ``published`` (the value comes from the model's published evaluation; owned data cannot
#: verify the target)
THRESHOLD_STATUSES = ("supported", "unsupported", "published")
#: kinds of ``source``: ``tuned`` (from an evaluation report), ``published`` (a model's published operating
#: point: needs model, dataset, protocol and reference), ``hand`` (set by a person, with a reason)
SOURCE_KINDS = ("tuned", "published", "hand")


@dataclass(frozen=True)
class Threshold:
    """A threshold, the operating point it targets, where it comes from and what it achieved.

    ``source`` is one line for people (the report it was tuned from, or the published source);
    ``origin`` is the structured source block (``{"kind": "published", "model": ..., "reference": ...}``;
    a plain-string source reads as ``{"kind": "tuned", "report": <the string>}``); ``extra`` keeps whatever
    else the policy records next to it (owned-data evidence, expected rates per gallery size, ...).
    """

    value: float
    target: str | None = None
    achieved: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    tuned_at: str | None = None
    status: str | None = None
    origin: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def source_kind(self) -> str:
        """``tuned``, ``published``, ``hand`` or ``unknown`` (no source recorded)."""
        return str(self.origin.get("kind") or ("tuned" if self.source else "unknown"))

    @property
    def unsupported(self) -> bool:
        """Forced to a target its data cannot support (``status: unsupported``)."""
        return self.status == "unsupported"


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

    def unsupported_thresholds(self) -> list[tuple[str, str, Threshold]]:
        """``(check, name, threshold)`` of every threshold forced to a target its data cannot support."""
        return [
            (check, name, t)
            for check, cfg in self.checks.items()
            for name, t in cfg.thresholds.items()
            if t.unsupported
        ]

    def unsupported_warnings(self) -> list[str]:
        """One line per unsupported threshold, for every consumer of the policy to print or log."""
        lines = []
        for check, name, t in self.unsupported_thresholds():
            why = t.extra.get("reason") or t.achieved.get("note") or "its data does not support its target"
            lines.append(
                f"policy {self.version}: checks.{check}.thresholds.{name} = {t.value:g} is UNSUPPORTED: "
                f"forced to {t.target or 'an unstated target'} that its data cannot support ({why})"
            )
        return lines

    def params(self, check: str) -> dict[str, Any]:
        """The parameters the policy sets for a check (empty when it sets none)."""
        cfg = self.checks.get(check)
        return dict(cfg.params) if cfg else {}

    def rules_reading(self, check: str, name: str) -> tuple[Rule, ...]:
        """The rules whose score condition reads ``checks.<check>.thresholds.<name>``."""
        return tuple(r for r in self.rules if r.when.check == check and r.when.score_threshold == name)

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

    def decide(self, results: Sequence[CheckResult], asked: Collection[str] | None = None) -> Decision:
        """Apply the rules to a set of results; every reason code ends up on the decision.

        ``asked`` names the checks that were run (or would have run with their evidence): a ``missing``
        condition holds only for an asked check, so a liveness-only or face-only run is not judged on the
        document it never looked at. None means every check the policy configures."""
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
            if rule.when.missing and asked is not None and rule.when.check not in asked:
                continue
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


def load_policy(path: str | Path | None = None, *, warn: bool = True) -> Policy:
    """Load and validate a policy; ``None`` means ``$OPENIDV_POLICY`` or the packaged default.

    Every threshold forced to a target its data cannot support (``status: unsupported``) is logged as a
    warning (logger ``openidv.policy``) each time a policy is loaded, unless ``warn`` is False (for callers
    that report it themselves, like ``openidv eval run``).
    """
    chosen = Path(path) if path else Path(os.environ.get("OPENIDV_POLICY") or default_policy_path())
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {chosen}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{chosen}: not valid YAML: {exc}") from None
    policy = parse_policy(raw, path=chosen)
    if warn:
        for line in policy.unsupported_warnings():
            _log.warning("%s", line)
    return policy


def parse_policy(raw: Any, path: Path | None = None) -> Policy:
    where = f"{path}: " if path else ""
    try:
        return _parse(raw, path)
    except PolicyError as exc:
        raise PolicyError(f"{where}{exc}") from None


# The file's shape, validated by pydantic; cross-references (checks, thresholds, reason codes) follow below.


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _SourceFile(BaseModel):
    """A structured ``source``: where a threshold comes from."""

    model_config = ConfigDict(extra="allow")  # e.g. published_rule, mapping, reported, accuracy_reference

    kind: Literal["tuned", "published", "hand"]
    reference: str | None = None
    model: str | None = None
    dataset: str | None = None
    protocol: str | None = None
    report: str | None = None
    reason: str | None = None

    def problem(self) -> str | None:
        """What a source of its kind lacks, or None."""
        needs = {
            "published": ("model", "dataset", "protocol", "reference"),
            "tuned": ("report",),
            "hand": ("reason",),
        }
        missing = [k for k in needs[self.kind] if not str(getattr(self, k) or "").strip()]
        if not missing:
            return None
        return f"a {self.kind} source needs {', '.join(missing)}"


class _ThresholdFile(_File):
    model_config = ConfigDict(extra="allow")  # tuning records more about the operating point

    value: float
    target: str | None = None
    status: Literal["supported", "unsupported", "published"] | None = None
    achieved: dict[str, Any] | None = None
    source: str | dict[str, Any] | None = None
    tuned_at: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _ThresholdFile:
        if isinstance(self.source, dict):
            try:
                block = _SourceFile.model_validate(self.source)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = _key_path(("source", *error.get("loc", ())))
                raise ValueError(f"{where}: {error.get('msg', 'invalid value')}") from None
            problem = block.problem()
            if problem:
                raise ValueError(f"source: {problem}")
            if self.status is None and block.kind == "published":
                self.status = "published"
        supported = (self.achieved or {}).get("supported")
        if self.status == "supported" and supported is False:
            raise ValueError("status: supported, but achieved.supported is false")
        if self.status in ("unsupported", "published") and supported is True:
            raise ValueError(f"status: {self.status}, but achieved.supported is true")
        return self


class _CheckFile(_File):
    params: dict[str, Any] | None = None
    thresholds: dict[str, _ThresholdFile] | None = None


class _ScoreFile(_File):
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    threshold: str


class _WhenFile(_File):
    check: str | None = None
    status: Status | None = None
    score: _ScoreFile | None = None
    reason_code: str | None = None
    reason_codes: list[str] | None = None
    missing: bool | None = None


class _RuleFile(_File):
    name: str | None = None
    when: _WhenFile
    outcome: Outcome
    reason_code: str | None = None


class _PolicyFile(_File):
    version: str | int | float
    description: str = ""
    default: Outcome = Outcome.APPROVE
    checks: dict[str, _CheckFile | None] | None = None
    rules: list[_RuleFile] | None = None


def _key_path(loc: Sequence[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _message(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    """One pydantic error as ``key.path: what is wrong``, in the words a policy author needs."""
    loc = tuple(error.get("loc", ()))
    path, kind, value = _key_path(loc), error.get("type", ""), error.get("input")
    last = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        return f"{path}: unknown key; allowed: {', '.join(_allowed_keys(model, loc[:-1]))}"
    if last == "version" and len(loc) == 1:
        return "version: missing; every policy carries a version string"
    if last == "value" and "thresholds" in loc:
        return f"{_key_path(loc[:-1])}: missing threshold value; run `openidv thresholds tune` to set it"
    if last == "op":
        return f"{path}: bad operator {value!r}; use one of {', '.join(OPERATORS)}"
    if last in ("outcome", "default"):
        return f"{path}: unknown outcome {value!r}; use approve, review or reject"
    if last == "status":
        return f"{path}: unknown status {value!r}; use {', '.join(s.value for s in Status)}"
    if kind == "missing":
        return f"{path}: missing"
    if kind == "value_error":
        return f"{path}: {str(error.get('msg', '')).removeprefix('Value error, ')}"
    return f"{path}: {error.get('msg', 'invalid value')}"


def _allowed_keys(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    """The keys the file allows at ``loc`` (walks the file models along the path)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        if field is None:
            continue
        current = _inner_model(field.annotation)
    return sorted(current.model_fields) if current is not None else []


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _parse(raw: Any, path: Path | None) -> Policy:
    if not isinstance(raw, dict):
        raise PolicyError("a policy is a mapping with version, checks and rules")
    try:
        file = _PolicyFile.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(_message(exc.errors()[0], _PolicyFile)) from None
    if not str(file.version).strip():
        raise PolicyError("version: missing; every policy carries a version string")
    known = set(check_names())
    checks: dict[str, CheckConfig] = {}
    for name, settings in (file.checks or {}).items():
        if name not in known:
            raise PolicyError(f"checks.{name}: unknown check; known checks: {', '.join(sorted(known))}")
        checks[name] = _check_config(name, settings or _CheckFile())
    rules = tuple(_rule(i, r, checks) for i, r in enumerate(file.rules or []))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PolicyError(f"rules: duplicate rule name(s) {', '.join(duplicates)}")
    return Policy(
        version=str(file.version),
        checks=checks,
        rules=rules,
        default=file.default,
        description=file.description,
        path=path,
    )


def _check_config(name: str, settings: _CheckFile) -> CheckConfig:
    params = settings.params or {}
    model = params_model(name)
    try:
        validated = model.model_validate(params)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = _key_path((f"checks.{name}.params", *error.get("loc", ())))
        if error.get("type") == "extra_forbidden":
            accepted = ", ".join(sorted(model.model_fields)) or "none"
            raise PolicyError(f"{key}: unknown parameter; accepted: {accepted}") from None
        raise PolicyError(f"{key}: {error.get('msg', 'invalid value')}") from None
    thresholds = {tname: _threshold(t) for tname, t in (settings.thresholds or {}).items()}
    backend = getattr(validated, "backend", None)
    for tname, t in thresholds.items():
        recorded = t.origin.get("backend")
        if backend is not None and recorded is not None and recorded != backend:
            raise PolicyError(
                f"checks.{name}.thresholds.{tname}: set from backend {recorded!r}'s operating point, "
                f"but checks.{name}.params.backend is {backend!r}; a threshold belongs to one backend: set "
                f"it for {backend!r} (its published point, then `openidv thresholds tune`)"
            )
    return CheckConfig(params=params, thresholds=thresholds)


def _threshold(t: _ThresholdFile) -> Threshold:
    achieved = t.achieved or {}
    if isinstance(t.source, dict):
        origin: dict[str, Any] = dict(t.source)
        source: str | None = _source_line(origin)
    else:
        origin = {"kind": "tuned", "report": t.source} if t.source else {}
        source = t.source
    status = t.status
    if status is None and isinstance(achieved.get("supported"), bool):
        status = "supported" if achieved["supported"] else "unsupported"
    return Threshold(
        value=t.value,
        target=t.target,
        achieved=achieved,
        source=source,
        tuned_at=t.tuned_at,
        status=status,
        origin=origin,
        extra=dict(t.model_extra or {}),
    )


def _source_line(origin: Mapping[str, Any]) -> str:
    kind = origin.get("kind")
    if kind == "published":
        return f"published: {origin.get('model')}, {origin.get('dataset')}"
    if kind == "hand":
        return f"set by hand: {origin.get('reason')}"
    return str(origin.get("report"))


def _rule(index: int, raw: _RuleFile, checks: Mapping[str, CheckConfig]) -> Rule:
    key = f"rules[{index}]"
    when = raw.when
    if when.model_dump(exclude_none=True) == {}:
        raise PolicyError(f"{key}.when: missing condition")
    check = when.check
    if check is not None and check not in checks:
        raise PolicyError(f"{key}.when.check: check {check!r} is not configured under checks:")
    if when.score is not None:
        if check is None:
            raise PolicyError(f"{key}.when.score: a score condition needs `check`")
        if when.score.threshold not in checks[check].thresholds:
            raise PolicyError(
                f"{key}.when.score.threshold: missing threshold {when.score.threshold!r} for check "
                f"{check!r}; define checks.{check}.thresholds.{when.score.threshold} "
                "(openidv thresholds tune writes it)"
            )
    codes = [*([when.reason_code] if when.reason_code else []), *(when.reason_codes or [])]
    for code in codes:
        if not is_known(code):
            raise PolicyError(f"{key}.when: unknown reason code {code!r} (not in the catalogue)")
    if when.missing is not None and check is None:
        raise PolicyError(f"{key}.when.missing: needs `check`")
    if raw.reason_code is not None and not is_known(raw.reason_code):
        raise PolicyError(
            f"{key}.reason_code: unknown reason code {raw.reason_code!r} (not in the catalogue)"
        )
    return Rule(
        name=raw.name or f"rule-{index}",
        when=Condition(
            check=check,
            status=when.status,
            score_op=when.score.op if when.score else None,
            score_threshold=when.score.threshold if when.score else None,
            reason_codes=tuple(codes),
            missing=when.missing,
        ),
        outcome=raw.outcome,
        reason_code=raw.reason_code,
    )


# ---------------------------------------------------------------- writing tuned thresholds


def write_threshold(
    path: str | Path,
    check: str,
    name: str,
    value: float,
    *,
    target: str | None,
    achieved: Mapping[str, Any] | None = None,
    source: str | Mapping[str, Any] | None = None,
    status: str | None = None,
    extra: Mapping[str, Any] | None = None,
    tuned_at: str | None = None,
) -> Policy:
    """Set ``checks.<check>.thresholds.<name>`` in a policy file and bump its version.

    ``status`` is ``supported``, ``unsupported`` (a forced target: every consumer of the policy warns) or
    ``published``; ``extra`` adds further keys to the entry (evidence, tables). The YAML is edited round-trip
    (comments, order and layout stay as the author wrote them), validated before and after, and replaced
    atomically, so a failed write leaves the old policy in place.
    """
    path = Path(path)
    source_text = (path if path.exists() else default_policy_path()).read_text(encoding="utf-8")
    editor = _round_trip_yaml()
    raw = editor.load(source_text)
    current = parse_policy(raw, path)
    require_readers(current, check, name)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    checks = raw.setdefault("checks", {})
    if checks.get(check) is None:
        checks[check] = {}
    thresholds = checks[check].setdefault("thresholds", {})
    entry: dict[str, Any] = {"value": float(value), "target": target}
    if status is not None:
        entry["status"] = status
    entry.update(
        {
            "achieved": dict(achieved or {}),
            "source": dict(source) if isinstance(source, Mapping) else source,
            "tuned_at": tuned_at or stamp,  # when the value was chosen (a re-record keeps the original)
        }
    )
    entry.update(dict(extra or {}))
    thresholds[name] = entry
    raw["version"] = _bump(str(raw.get("version", "0")), stamp)
    policy = parse_policy(raw, path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        editor.dump(raw, handle)
    tmp.replace(path)
    return replace(policy, path=path)


def require_readers(policy: Policy, check: str, name: str) -> None:
    """Refuse a threshold that no rule reads: writing it would change no decision, silently."""
    if policy.rules_reading(check, name):
        return
    readers = [
        f"{r.name} (checks.{r.when.check}.thresholds.{r.when.score_threshold})"
        for r in policy.rules
        if r.when.score_threshold is not None
    ]
    same_check = [r for r in readers if f"checks.{check}." in r]
    listed = same_check or readers
    raise PolicyError(
        f"checks.{check}.thresholds.{name}: no rule of policy {policy.version} reads this threshold, so "
        f"setting it would change no decision; the rules that read a threshold"
        f"{' of ' + check if same_check else ''} are: {', '.join(listed) or 'none'}"
    )


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
