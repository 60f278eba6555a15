"""``docs/api-reference-http.md`` is generated from the OpenAPI document and kept current."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_http_api_reference_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/gen_api_docs.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + "\nrun: python scripts/gen_api_docs.py"


def test_the_reference_lists_every_endpoint() -> None:
    text = (ROOT / "docs" / "api-reference-http.md").read_text(encoding="utf-8")
    for line in (
        "`GET /health`",
        "`POST /api/v1/validate`",
        "`POST /api/v1/process`",
        "`POST /api/v1/auth/token`",
        "`POST /api/v1/machines/{machine_id}/entities/{entity_id}/events`",
        "### MachineDefinition",
        "### TransitionResult",
    ):
        assert line in text
