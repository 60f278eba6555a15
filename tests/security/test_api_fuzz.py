"""Schemathesis against the app's own OpenAPI schema, with every check it has.

No 5xx, every status documented, every response body matching its schema, invalid data
rejected, auth not ignored. Example counts are modest so the whole file runs in well under a
minute; raise ``PYSTATOR_FUZZ_EXAMPLES`` for a longer hunt.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi import from_asgi

from pystator.api.auth import issue_token
from tests.integration.api_app import ORDER, app_for, auth_settings
from tests.integration.api_app import settings as api_settings

EXAMPLES = int(os.environ.get("PYSTATOR_FUZZ_EXAMPLES", "12"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
# Schemathesis parametrizes at collection time, so the apps are built at import, each on a
# SQLite file in a private directory removed when the process exits.
WORKDIR = Path(tempfile.mkdtemp(prefix="pystator-fuzz-"))
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)  # also when deselected


def _seeded(app: Any, headers: dict[str, str] | None = None) -> Any:
    """A stored machine and entity, so some generated ids hit real resources."""
    c = TestClient(app)
    c.post("/api/v1/machines", json={"config": ORDER}, headers=headers)
    c.post("/api/v1/machines/orders/entities", json={"entity_id": "o1"}, headers=headers)
    return app


(WORKDIR / "open").mkdir()
(WORKDIR / "auth").mkdir()
OPEN_APP = _seeded(app_for(api_settings(WORKDIR / "open")))
AUTH_SETTINGS = auth_settings(WORKDIR / "auth")
TOKEN = issue_token(AUTH_SETTINGS, "fuzzer")
AUTH_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
AUTH_APP = _seeded(app_for(AUTH_SETTINGS), AUTH_HEADERS)

# Strings are UTF-8 text without NUL: the API refuses lone surrogates and NUL characters
# (databases and UTF-8 encoders cannot store them), a documented 400.
#
# A schema-valid definition can still be refused: JSON Schema cannot say that a transition's
# dest must be one of the states, that a guard's outcome must be supplied, or that an initial
# state must exist. Operations that check such meaning may answer 422 to schema-valid data.
# Definitions are read by the same loader as files, which converts like YAML readers do
# ("true" for a boolean, 1 for a version string), so a definition with such a value is not
# refused: those operations skip the negative-data check (tests/integration/test_api.py
# checks their wrong types and unknown fields). Every other check, and every other
# operation, keeps schemathesis' defaults.
COMMON = """
[generation]
allow-x00 = false
codec = "utf-8"

[[operations]]
include-name-regex = "^(POST|PUT) /api/v1/(process|machines)"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

[[operations]]
include-name-regex = "^(POST /api/v1/process|POST /api/v1/machines$|PUT /api/v1/machines/)"
checks.negative_data_rejection.enabled = false
"""
# The coverage phase walks every field of the definition schema (hundreds of cases per
# operation): it runs once, on the open app, for POST /machines and /process (PUT takes the
# same body). The app with auth runs the other phases: the same code, behind a token.
OPEN_CONFIG = SchemathesisConfig.from_str(
    COMMON
    + """
[[operations]]
include-name = "PUT /api/v1/machines/{machine_id}"
phases.coverage.enabled = false
"""
)
AUTH_CONFIG = SchemathesisConfig.from_str(
    COMMON.replace("[generation]", "[phases.coverage]\nenabled = false\n\n[generation]")
)
open_schema = from_asgi("/openapi.json", OPEN_APP, config=OPEN_CONFIG)
auth_schema = from_asgi("/openapi.json", AUTH_APP, config=AUTH_CONFIG)


@pytest.fixture(scope="module", autouse=True)
def _remove_workdir() -> Iterator[None]:
    yield
    for app in (OPEN_APP, AUTH_APP):
        app.state.services.close()


@open_schema.parametrize()
@FUZZ_SETTINGS
def test_open_api(case: Case) -> None:
    case.call_and_validate()


@auth_schema.parametrize()
@FUZZ_SETTINGS
def test_api_with_auth(case: Case) -> None:
    case.call_and_validate(headers=AUTH_HEADERS)
