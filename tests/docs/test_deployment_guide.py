"""docs/deployment.md says what the code does: its settings, its ``.env`` file, its client.

* The table of environment variables is ``ApiSettings``: one row per field, named
  ``PYSTATOR_<FIELD>``, with the field's default; and every ``PYSTATOR_*`` name on the page is
  a setting. A setting added, renamed or given another default fails here until the guide
  says so.
* The guide's ``.env`` block is read by ``ApiSettings`` as it is written.
* The guide's ``send_event`` retries a conflict, an outage and a lost answer with the same
  idempotency key, and does not retry the caller's own mistakes.

The processes the guide starts run in ``tests/integration/test_deployment.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest

from pystator.api import ApiSettings
from tests.docs.markdown_snippets import ROOT, Block, blocks_of

GUIDE = ROOT / "docs" / "deployment.md"
ROW = re.compile(r"^\| `PYSTATOR_(?P<name>[A-Z_]+)` \| (?P<default>[^|]+) \|")
VARIABLE = re.compile(r"\bPYSTATOR_[A-Z_]+\b")


def guide_block(file_name: str) -> Block:
    found = [b for b in blocks_of(GUIDE) if b.file == file_name]
    assert len(found) == 1, f"docs/deployment.md has {len(found)} blocks file={file_name}"
    return found[0]


def table_rows() -> dict[str, str]:
    """The settings table: field name -> its default cell."""
    rows: dict[str, str] = {}
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        row = ROW.match(line)
        if row:
            name = row.group("name").lower()
            assert name not in rows, f"PYSTATOR_{name.upper()} is listed twice"
            rows[name] = row.group("default").strip()
    return rows


def matches_default(cell: str, default: Any) -> bool:
    """Whether a default cell (`unset`, `empty`, or a code span) says ``default``."""
    if default is None:
        return cell.startswith("unset")
    if default == []:
        return cell == "empty"
    value = re.fullmatch(r"`([^`]+)`", cell)
    if value is None:
        return False
    text = value.group(1)
    if isinstance(default, bool):
        return text == str(default).lower()
    if isinstance(default, int | float):
        return float(text) == default
    return bool(text == str(default))


def test_the_settings_table_is_every_setting_with_its_default() -> None:
    rows = table_rows()
    fields = ApiSettings.model_fields
    missing, unknown = sorted(set(fields) - set(rows)), sorted(set(rows) - set(fields))
    assert not missing, f"settings the table does not list: {missing}"
    assert not unknown, f"rows that are not settings: {unknown}"
    for name, cell in rows.items():
        default = fields[name].get_default(call_default_factory=True)
        assert matches_default(cell, default), f"PYSTATOR_{name.upper()}: {cell} vs {default!r}"


def test_the_default_cells_are_checked() -> None:
    assert matches_default("`5`", 5.0)
    assert not matches_default("`6`", 5.0)
    assert matches_default("`false`", False)
    assert not matches_default("`true`", False)
    assert matches_default("unset (twice ...)", None)
    assert not matches_default("`0`", None)
    assert matches_default("empty", [])
    assert matches_default("`pystator`", "pystator")
    assert not matches_default("`pystator-api`", "pystator")


def test_every_pystator_variable_on_the_page_is_a_setting() -> None:
    names = set(VARIABLE.findall(GUIDE.read_text(encoding="utf-8")))
    settings = {f"PYSTATOR_{name.upper()}" for name in ApiSettings.model_fields}
    assert names - settings == set()
    assert len(names) > 20  # the search itself works


def test_the_env_file_of_the_guide_is_read_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PYSTATOR_"):
            monkeypatch.delenv(name)
    block = guide_block("pystator-api.env")
    lines = [line for line in block.code.splitlines() if line and not line.startswith("#")]
    written = dict(line.split("=", 1) for line in lines)
    settings_fields = {f"PYSTATOR_{name.upper()}" for name in ApiSettings.model_fields}
    assert set(written) <= settings_fields
    env_file = tmp_path / "api.env"
    env_file.write_text(block.code, encoding="utf-8")

    settings = ApiSettings(_env_file=env_file)

    assert settings.database_url == written["PYSTATOR_DATABASE_URL"]
    assert settings.database_kind() == "postgresql"
    assert settings.auth_enabled
    assert settings.user_hashes() == {"alice": written["PYSTATOR_USERS"].split(":", 1)[1]}
    assert settings.cors_origins == [written["PYSTATOR_CORS_ORIGINS"]]
    assert settings.host == written["PYSTATOR_HOST"]
    assert settings.log_level == written["PYSTATOR_LOG_LEVEL"]


# ---------------------------------------------------------------------------- the client
def guide_send_event() -> Any:
    namespace: dict[str, Any] = {"__name__": "pystator_client"}
    exec(compile(guide_block("pystator_client.py").code, str(GUIDE), "exec"), namespace)
    return namespace["send_event"]


class Script:
    """A transport that answers requests from a list, and records their idempotency keys."""

    def __init__(self, *answers: int | type[httpx2.TransportError]) -> None:
        self.answers = list(answers)
        self.keys: list[str | None] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.keys.append(request.headers.get("Idempotency-Key"))
        answer = self.answers.pop(0)
        if not isinstance(answer, int):
            raise answer("no answer", request=request)
        headers = {"Retry-After": "0"} if answer == 503 else {}
        return httpx2.Response(answer, json={"result": {"success": True}}, headers=headers)


@pytest.mark.parametrize(
    "answers",
    [
        (409, 200),
        (503, 200),
        (httpx2.ReadTimeout, 200),
        (httpx2.ConnectError, 409, 503, 200),
    ],
    ids=["conflict", "outage", "lost answer", "all three"],
)
def test_the_guides_client_retries_with_the_same_key(
    answers: tuple[int | type[httpx2.TransportError], ...],
) -> None:
    send_event = guide_send_event()
    script = Script(*answers)
    with httpx2.Client(base_url="http://api.test", transport=httpx2.MockTransport(script)) as c:
        answer = send_event(c, "/events", "add", {"amount": 1}, key="order-7731")
    assert answer == {"result": {"success": True}}
    assert script.keys == ["order-7731"] * len(answers)


def test_the_guides_client_does_not_retry_a_mistake() -> None:
    send_event = guide_send_event()
    script = Script(422, 200)
    client = httpx2.Client(base_url="http://api.test", transport=httpx2.MockTransport(script))
    with client, pytest.raises(httpx2.HTTPStatusError):
        send_event(client, "/events", "add", {"amount": 1}, key="order-7731")
    assert script.keys == ["order-7731"]


def test_the_guides_client_gives_up() -> None:
    send_event = guide_send_event()
    script = Script(*[503] * 3)
    client = httpx2.Client(base_url="http://api.test", transport=httpx2.MockTransport(script))
    with client, pytest.raises(RuntimeError, match="no clear answer in 3 attempts"):
        send_event(client, "/events", "add", {"amount": 1}, key="order-7731", attempts=3)
    assert len(script.keys) == 3
