"""Run schemathesis (the CLI, as a subprocess) against a live server and read its JSON report.

The server's own access log is the second witness: every 5xx it sent is counted there, whatever
schemathesis chose to report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Checks that make a schema violation or a server error a failure.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
#: Per-operation schemathesis settings: what the schema cannot say (see the file).
CONFIG = Path(__file__).with_name("schemathesis.toml")
_ACCESS_5XX = re.compile(r'HTTP/1\.[01]" 5\d\d\b')


@dataclass(frozen=True, slots=True)
class FuzzResult:
    """One schemathesis run: cases generated, failures found and the server's 5xx count."""

    label: str
    cases: int
    failures: tuple[str, ...]
    errors: tuple[str, ...]
    server_errors: int
    exit_code: int
    output_tail: str


def count_server_errors(log_text: str) -> int:
    """5xx responses in a uvicorn access log."""
    return len(_ACCESS_5XX.findall(log_text))


def run_schemathesis(
    base_url: str,
    report_dir: Path,
    *,
    label: str,
    seed: int,
    max_examples: int,
    headers: dict[str, str] | None = None,
    phases: str = "examples,coverage,fuzzing",
    timeout: float = 600.0,
    log_text: Callable[[], str] | None = None,
    checks: tuple[str, ...] = CHECKS,
    include_path_regex: str | None = None,
) -> FuzzResult:
    """Fuzz every operation of ``base_url``'s OpenAPI schema; never raises on findings.

    ``checks`` may add schemathesis' acceptance checks (``positive_data_acceptance``,
    ``negative_data_rejection``); ``schemathesis.toml`` beside this file lists the statuses a
    schema cannot express. ``include_path_regex`` limits the run to matching paths.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    before = count_server_errors(log_text()) if log_text is not None else 0
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        ",".join(checks),
        "--seed",
        str(seed),
        "--max-examples",
        str(max_examples),
        "--phases",
        phases,
        "--workers",
        "1",
        "--no-shrink",
        "--continue-on-failure",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-dir",
        str(report_dir),
        "--suppress-health-check",
        "all",
        "--warnings",
        "off",
    ]
    if include_path_regex is not None:
        command += ["--include-path-regex", include_path_regex]
    for name, value in (headers if headers is not None else {}).items():
        command += ["--header", f"{name}: {value}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    reports = sorted(report_dir.glob("json-*.json"))
    if not reports:
        raise AssertionError(f"schemathesis wrote no report:\n{result.stdout}\n{result.stderr}")
    report = json.loads(reports[-1].read_text())
    after = count_server_errors(log_text()) if log_text is not None else 0
    failures = tuple(
        f"{f.get('code')} {f.get('title')}: {', '.join(f.get('operations', []))}"
        for f in report.get("failures", [])
    )
    errors = tuple(json.dumps(e)[:500] for e in report.get("errors", []))
    return FuzzResult(
        label=label,
        cases=int(report["test_cases"]["generated"]),
        failures=failures,
        errors=errors,
        server_errors=after - before,
        exit_code=result.returncode,
        output_tail=(result.stdout + result.stderr)[-4000:],
    )
