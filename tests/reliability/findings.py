"""Tests pinned to open findings skip in CI; KARENA_RELIABILITY_RUN_FINDINGS=1 re-checks them."""

from __future__ import annotations

import os

import pytest

RUN_FINDINGS_ENV = "KARENA_RELIABILITY_RUN_FINDINGS"
FINDINGS_FILE = "/work/notes/reliability-findings.md"


def finding(finding_id: str) -> pytest.MarkDecorator:
    """Skip the test (a known, filed defect) unless findings are being re-checked."""
    return pytest.mark.skipif(
        os.environ.get(RUN_FINDINGS_ENV) != "1",
        reason=f"open finding {finding_id} ({FINDINGS_FILE}); {RUN_FINDINGS_ENV}=1 runs it",
    )
