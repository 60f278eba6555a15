"""``pystator export`` and ``pystator import``: formats, files, exit codes, one line per
problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pystator import MachineDefinition
from pystator.cli import main
from pystator.loaders import load_json_file, load_yaml_file, load_yaml_string
from pystator.loaders.scxml import from_scxml
from tests.conftest import ROOT

DAY_TRADING = ROOT / "examples" / "day_trading_fsm.yaml"

LIGHT = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" initial="red">
  <state id="red">
    <onentry><send event="timer" delay="30s"/></onentry>
    <transition event="timer" target="green"/>
  </state>
  <state id="green"><transition event="stop" target="red"/></state>
</scxml>
"""

REFUSED = """<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" name="order">
  <state id="open">
    <invoke src="payment.scxml"/>
  </state>
</scxml>
"""


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def light(tmp_path: Path) -> Path:
    path = tmp_path / "traffic-light.scxml"
    path.write_text(LIGHT, encoding="utf-8")
    return path


def test_export_writes_scxml_that_imports_back_equal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "export", DAY_TRADING)
    assert (code, err) == (0, "")
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<scxml ')
    original = load_yaml_file(DAY_TRADING)
    assert from_scxml(out) == original
    scxml = tmp_path / "day.scxml"
    scxml.write_text(out, encoding="utf-8")
    code, out, err = run(capsys, "import", scxml)
    assert (code, err) == (0, "")
    assert load_yaml_string(out) == original


@pytest.mark.parametrize(
    ("output", "read"),
    [
        ("day.scxml", lambda p: from_scxml(p.read_text(encoding="utf-8"))),
        ("day.xml", lambda p: from_scxml(p.read_bytes())),
        ("day.json", load_json_file),
        ("day.yml", load_yaml_file),
    ],
)
def test_export_takes_the_format_from_the_output_suffix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str, read: object
) -> None:
    path = tmp_path / output
    code, out, err = run(capsys, "export", DAY_TRADING, "-o", path)
    assert (code, out, err) == (0, "", "")
    assert callable(read)
    assert read(path) == load_yaml_file(DAY_TRADING)


def test_export_format_wins_over_the_suffix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "day.txt"
    assert run(capsys, "export", DAY_TRADING, "--format", "json", "-o", path)[0] == 0
    assert json.loads(path.read_text(encoding="utf-8"))["meta"]["machine_name"] == "day_trading"
    code, out, _ = run(capsys, "export", DAY_TRADING, "--format", "yaml")
    assert code == 0
    assert load_yaml_string(out) == load_yaml_file(DAY_TRADING)


def test_import_names_an_unnamed_machine_after_its_file(
    capsys: pytest.CaptureFixture[str], light: Path, tmp_path: Path
) -> None:
    code, out, err = run(capsys, "import", light)
    assert (code, err) == (0, "")
    definition = load_yaml_string(out)
    assert definition.meta.machine_name == "traffic_light"
    assert [(t.trigger, t.after) for t in definition.transitions] == [
        ("timer", "30s"),
        ("stop", None),
    ]
    assert run(capsys, "import", light, "--name", "lights", "-o", tmp_path / "l.json")[0] == 0
    assert load_json_file(tmp_path / "l.json").meta.machine_name == "lights"


def test_export_reads_scxml_too(capsys: pytest.CaptureFixture[str], light: Path) -> None:
    code, out, _ = run(capsys, "export", light, "--format", "yaml")
    assert code == 0
    assert isinstance(load_yaml_string(out), MachineDefinition)


def test_a_refused_element_is_one_line_with_its_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "order.scxml"
    path.write_text(REFUSED, encoding="utf-8")
    code, out, err = run(capsys, "import", path)
    assert (code, out) == (2, "")
    assert err == (
        f"error: {path}: line 3: <invoke> is not supported: PyStator machines do not start "
        "other services or machines; start them from an action\n"
    )


def test_several_problems_are_one_line_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.scxml"
    path.write_text(
        '<scxml xmlns="http://www.w3.org/2005/07/scxml" name="m">\n'
        '<state id="a"><onentry><script/></onentry>\n'
        '<transition event="*" target="a"/></state>\n'
        "</scxml>\n",
        encoding="utf-8",
    )
    code, _, err = run(capsys, "import", path)
    assert code == 2
    lines = err.splitlines()
    assert [line.split(" is not supported")[0] for line in lines] == [
        f"error: {path}: line 2: <script>",
        f"error: {path}: line 3: <transition event='*'>",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><scxml name="m"/>',
            "line 1: a document type declaration (<!DOCTYPE x>) is not allowed",
        ),
        (
            "<scxml name='m'><state></scxml>",
            "line 1, column 26: not well-formed XML: mismatched tag",
        ),
        (
            '<scxml xmlns="http://www.w3.org/2005/07/scxml" name="m">'
            '<state id="a"><transition event="go" target="b"/></state></scxml>',
            "transitions[0].dest: state 'b' is not defined (line 1)",
        ),
    ],
)
def test_unsafe_malformed_and_invalid_documents_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "doc.scxml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "import", path)
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith(f"error: {path}: {message}")


def test_a_missing_file_exits_2_and_an_invalid_definition_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "import", tmp_path / "none.scxml")
    assert code == 2
    assert (
        err.strip()
        == f"error: {tmp_path / 'none.scxml'}: file not found: {tmp_path / 'none.scxml'}"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "meta: {machine_name: m}\nstates: [{name: A}]\n"
        "transitions: [{trigger: t, source: A, dest: B}]\n",
        encoding="utf-8",
    )
    code, _, err = run(capsys, "export", broken)
    assert code == 1
    assert err.startswith(f"error: {broken}: transitions[0].dest: state 'B' is not defined")


def test_usage_mistakes_exit_2(capsys: pytest.CaptureFixture[str], light: Path) -> None:
    assert run(capsys, "import", light, "--name", "9lives")[0] == 2
    assert run(capsys, "import", light, "--format", "scxml")[0] == 2
    assert run(capsys, "export")[0] == 2


def test_an_output_that_cannot_be_written_exits_1(
    capsys: pytest.CaptureFixture[str], light: Path, tmp_path: Path
) -> None:
    target = tmp_path / "missing-dir" / "out.yaml"
    code, _, err = run(capsys, "import", light, "-o", target)
    assert code == 1
    assert err.startswith(f"error: -o {target}: cannot write the file:")


def test_the_commands_run_as_python_m_pystator(tmp_path: Path) -> None:
    """Through the real entry point: the exit status and one readable line, no traceback."""
    path = tmp_path / "order.scxml"
    path.write_text(REFUSED, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pystator", "import", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    help_text = subprocess.run(
        [sys.executable, "-m", "pystator", "--help"], capture_output=True, text=True, timeout=120
    ).stdout
    assert "export" in help_text
    assert "import" in help_text
