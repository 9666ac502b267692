"""pip-audit over every lock (``requirements.lock``, ``requirements-dev.lock``,
``requirements-uv.lock``): no pinned package may have a known vulnerability.

pip-audit needs a vulnerability service: PyPI's per-release JSON (its default) or OSV.
Where neither answers - this project's sandbox and CI reach the package index but not
those - plain pip-audit reports every package as "not found", prints "No known
vulnerabilities found" and exits 0: a pass that audited nothing. So first one pinned
package (pip-audit itself, which is certainly published) is audited against each
service in turn, and:

- a service that audits it: every lock is audited against that service; a vulnerability,
  or any package the service could not audit, fails the test;
- no service audits it: the test is reported SKIPPED, with each service's answer, and
  the audit counts as not done. It never passes without auditing, under CI=true or not.

``make audit`` is the strict, authoritative run for a machine that reaches a service: it
fails when a package cannot be audited.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = [
    ROOT / name for name in ("requirements.lock", "requirements-dev.lock", "requirements-uv.lock")
]
PIP_AUDIT = str(Path(sys.executable).parent / "pip-audit")
SERVICES = ("pypi", "osv")
PROBE = "pip-audit"


@dataclass(frozen=True)
class Findings:
    audited: int
    vulnerable: list[str]
    """``name version: id (fixed in ...)``, one per vulnerability."""
    unaudited: list[str]
    """``name: why``, one per package the service could not audit."""


def findings(report: dict[str, Any]) -> Findings:
    """What a ``pip-audit --format json`` report says."""
    vulnerable, unaudited, audited = [], [], 0
    for dependency in report.get("dependencies", []):
        name = dependency["name"]
        if "skip_reason" in dependency:
            unaudited.append(f"{name}: {dependency['skip_reason']}")
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            fixed = ", ".join(vulnerability.get("fix_versions") or []) or "no fix yet"
            vulnerable.append(
                f"{name} {dependency.get('version')}: {vulnerability['id']} (fixed in {fixed})"
            )
    return Findings(audited, vulnerable, unaudited)


def pip_audit(requirements: list[Path], service: str) -> tuple[Findings | None, str]:
    """Audit hashed requirement files against ``service``: the findings (``None`` when
    pip-audit failed before reporting) and what it said on stderr."""
    command = [PIP_AUDIT, "--require-hashes", "--disable-pip", "--format", "json"]
    command += ["--vulnerability-service", service, "--progress-spinner", "off", "--timeout", "20"]
    for path in requirements:
        command += ["--requirement", str(path)]
    done = subprocess.run(  # noqa: S603 - fixed arguments, our own files
        command, capture_output=True, text=True, timeout=900, check=False
    )
    said = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
    if done.returncode != 0 and not done.stdout.strip():
        return None, said[0]
    return findings(json.loads(done.stdout)), said[0]


def probe_requirement(tmp_path: Path) -> Path:
    """The pip-audit pin of the dev lock (with its hashes) alone in a requirements file."""
    lines = (ROOT / "requirements-dev.lock").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{PROBE}=="))
    end = start
    while lines[end].rstrip().endswith("\\"):
        end += 1
    path = tmp_path / "probe.txt"
    path.write_text("\n".join(lines[start : end + 1]) + "\n")
    return path


def usable_service(tmp_path: Path) -> tuple[str | None, dict[str, str]]:
    """The first service that audits the probe, and what each one tried answered."""
    probe = probe_requirement(tmp_path)
    answers: dict[str, str] = {}
    for service in SERVICES:
        result, said = pip_audit([probe], service)
        if result is not None and result.audited == 1:
            return service, answers
        answers[service] = said if result is None else "; ".join(result.unaudited)
    return None, answers


def test_no_locked_package_has_a_known_vulnerability(tmp_path: Path) -> None:
    service, answers = usable_service(tmp_path)
    if service is None:
        tried = " | ".join(f"{name}: {answer}" for name, answer in answers.items())
        pytest.skip(f"dependency audit NOT DONE - no vulnerability service answers here ({tried})")
    result, said = pip_audit(LOCKS, service)
    assert result is not None, f"pip-audit failed against {service}: {said}"
    problems = result.vulnerable + [f"not audited: {entry}" for entry in result.unaudited]
    assert not problems, "\n".join(problems)
    assert result.audited >= 100, f"only {result.audited} packages audited"


def test_a_reported_vulnerability_or_an_unaudited_package_is_a_finding() -> None:
    report = {
        "dependencies": [
            {"name": "fine", "version": "1.0", "vulns": []},
            {
                "name": "leaky",
                "version": "2.0",
                "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["2.1"], "aliases": []}],
            },
            {"name": "ghost", "skip_reason": "Dependency not found and could not be audited"},
        ],
        "fixes": [],
    }
    assert findings(report) == Findings(
        audited=2,
        vulnerable=["leaky 2.0: PYSEC-0000-1 (fixed in 2.1)"],
        unaudited=["ghost: Dependency not found and could not be audited"],
    )
