"""Audit the installed, pinned dependencies for known vulnerabilities with pip-audit (`make test` runs it).

Run with the project's venv Python (``.venv/bin/python scripts/audit_deps.py``): pip-audit then audits that
environment, i.e. every pinned runtime and dev dependency and everything they pulled in. openidv itself (an
editable install of this checkout) is skipped.

Offline-safe: a vulnerability service that cannot be reached is not a failure. Before the full audit, one
tiny probe asks each service (PyPI's JSON API, then OSV) about a single package, with a short timeout; when
none answers, the audit is skipped with a message saying so, and the exit status is 0. A package mirror that
serves wheels but not PyPI's JSON API counts as unreachable too: pip-audit then marks every package "not
found on PyPI" and would otherwise report "No known vulnerabilities found" having checked nothing.

Exit status: 0 when no known vulnerability was found (or the audit was skipped), 1 when one was (each is
printed with its id, the fixed versions and the way to silence it: an entry in scripts/audit_ignore.txt,
``ID  reason``, for a vulnerability judged not to apply), 2 when pip-audit itself failed for another reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

SERVICES = ("pypi", "osv")
PROBE = "pip==26.3"  # any pinned package the service surely knows
TIMEOUT_S = "10"  # per request
IGNORE_FILE = Path(__file__).with_name("audit_ignore.txt")
NETWORK_WORDS = (
    "ConnectionError",
    "NameResolution",
    "Max retries",
    "timed out",
    "Timeout",
    "SSLError",
    "ProxyError",
    "Temporary failure",
    "Network is unreachable",
    "HTTPError",
)


def pip_audit(*args: str) -> tuple[int, dict[str, object] | None, str]:
    """Run pip-audit with JSON output; (exit status, parsed report or None, stderr)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip_audit",
                "--progress-spinner",
                "off",
                "--timeout",
                TIMEOUT_S,
                "--format",
                "json",
                "--output",
                str(out),
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        report = json.loads(out.read_text()) if out.is_file() and out.stat().st_size else None
    return proc.returncode, report, proc.stderr


def audited(report: dict[str, object] | None) -> list[dict[str, object]]:
    deps = (report or {}).get("dependencies", [])
    return [d for d in deps if isinstance(d, dict) and "skip_reason" not in d]  # type: ignore[union-attr]


def reachable_service() -> tuple[str | None, list[str]]:
    """The first service that answers the probe, and why each one before it did not."""
    why: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "probe.txt"
        req.write_text(PROBE + "\n")
        for service in SERVICES:
            code, report, err = pip_audit(
                "--vulnerability-service", service, "--requirement", str(req), "--no-deps", "--disable-pip"
            )
            if code in (0, 1) and audited(report):
                return service, why
            skipped = [d.get("skip_reason") for d in (report or {}).get("dependencies", [])]  # type: ignore[union-attr]
            last = err.strip().splitlines()[-1:] if err.strip() else []
            why.append(
                f"{service}: {'; '.join(str(s) for s in skipped if s) or ' '.join(last) or f'exit {code}'}"
            )
    return None, why


def ignored() -> dict[str, str]:
    if not IGNORE_FILE.is_file():
        return {}
    entries = {}
    for line in IGNORE_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            vuln_id, _, reason = line.partition(" ")
            entries[vuln_id] = reason.strip()
    return entries


def main() -> int:
    service, why = reachable_service()
    if service is None:
        print("pip-audit: SKIPPED, no vulnerability service could be reached from here")
        for line in why:
            print(f"  {line[:300]}")
        return 0
    args = ["--vulnerability-service", service, "--skip-editable"]
    for vuln_id in ignored():
        args += ["--ignore-vuln", vuln_id]
    code, report, err = pip_audit(*args)
    if report is None:
        if any(word in err for word in NETWORK_WORDS):
            print(
                f"pip-audit: SKIPPED, {service} stopped answering mid-audit: {err.strip().splitlines()[-1]}"
            )
            return 0
        print(f"pip-audit failed (exit {code}):\n{err}", file=sys.stderr)
        return 2
    deps = [d for d in report.get("dependencies", []) if isinstance(d, dict)]  # type: ignore[union-attr]
    checked = audited(report)
    found = [(d, v) for d in checked for v in d.get("vulns", [])]
    skipped = [d for d in deps if "skip_reason" in d]
    print(
        f"pip-audit ({service}): {len(checked)} packages audited, {len(skipped)} skipped, "
        f"{len(found)} known vulnerabilities"
    )
    for d in skipped:
        print(f"  skipped {d.get('name')}: {d.get('skip_reason')}")
    for d, v in found:
        fixes = ", ".join(v.get("fix_versions", [])) or "none yet"
        print(
            f"  {d['name']}=={d['version']}: {v.get('id')} (aliases {', '.join(v.get('aliases', []))}); "
            f"fixed in {fixes}"
        )
    if found:
        print(
            f"upgrade the pin in pyproject.toml, or add 'ID  reason' to {IGNORE_FILE.name} "
            "when it does not apply"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
