"""``pystator lint``: one grep-able line per finding, JSON, ``--module`` and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pystator.cli import main
from tests.conftest import EXAMPLES, ROOT

SHADOWED = """\
meta: {machine_name: review}
states:
  - {name: DRAFT, type: initial}
  - {name: IN_REVIEW}
  - {name: PUBLISHED, type: terminal}
transitions:
  - {trigger: submit, source: DRAFT, dest: PUBLISHED}
  - {trigger: submit, source: DRAFT, dest: IN_REVIEW, guards: [{expr: "needs_review"}]}
  - {trigger: approve, source: IN_REVIEW, dest: PUBLISHED}
"""

GUARDED = """\
meta: {machine_name: orders}
states:
  - {name: PENDING, type: initial, on_enter: [reserve_stock]}
  - {name: FILLED, type: terminal}
transitions:
  - {trigger: fill, source: PENDING, dest: FILLED, guards: [is_full_fil], actions: [notify]}
"""

HOOKS = """\
from pystator import ActionRegistry, GuardRegistry

guards = GuardRegistry()
guards.register("is_full_fill", lambda ctx: True)
actions = ActionRegistry()
actions.register("reserve_stock", lambda ctx: None)
print("importing the hooks")
"""


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["lint", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current directory of its own; ``sys.path`` and ``sys.modules`` are put back after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    (tmp_path / "review.yaml").write_text(SHADOWED, encoding="utf-8")
    (tmp_path / "orders.yaml").write_text(GUARDED, encoding="utf-8")
    return tmp_path


class TestOutput:
    def test_clean_files_print_nothing_and_exit_0(self, capsys: pytest.CaptureFixture[str]) -> None:
        files = sorted(EXAMPLES.glob("*.yaml"))
        assert run(capsys, *files) == (0, "", "")

    def test_one_line_per_finding(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, err = run(capsys, "review.yaml", EXAMPLES / "order_fsm.yaml")
        assert code == 1
        assert err == ""
        lines = out.splitlines()
        assert [line.split(": ", 3)[:3] for line in lines] == [
            ["review.yaml", "states[1]", "unreachable-state"],
            ["review.yaml", "transitions[1]", "shadowed-transition"],
            ["review.yaml", "transitions[2].trigger", "dead-trigger"],
        ]
        assert "state 'IN_REVIEW' can never be entered" in lines[0]

    def test_json(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, _ = run(capsys, "review.yaml", "--format", "json")
        assert code == 1
        rows = json.loads(out)
        assert [(r["file"], r["path"], r["code"], r["line"]) for r in rows] == [
            ("review.yaml", "states[1]", "unreachable-state", 4),
            ("review.yaml", "transitions[1]", "shadowed-transition", 8),
            ("review.yaml", "transitions[2].trigger", "dead-trigger", 9),
        ]
        assert {r["severity"] for r in rows} == {"warning"}
        assert set(rows[0]) == {"file", "path", "code", "severity", "message", "line"}
        assert run(capsys, EXAMPLES / "order_fsm.yaml", "--format", "json") == (0, "[]\n", "")

    def test_json_files_get_lines_too(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from pystator.loaders import load_yaml_string

        text = load_yaml_string(SHADOWED).model_dump_json(indent=2, exclude_defaults=True)
        (workdir / "review.json").write_text(text, encoding="utf-8")
        code, out, _ = run(capsys, "review.json", "--format", "json")
        assert code == 1
        first = json.loads(out)[0]
        assert first["path"] == "states[1]"
        assert '"IN_REVIEW"' in text.splitlines()[first["line"]]  # the line after its "{"


class TestInvalidFiles:
    def test_validation_errors_as_validate_prints_them_and_exit_2(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (workdir / "broken.yaml").write_text(
            "meta: {machine_name: m}\nstates: [{name: OPEN}]\n"
            "transitions:\n  - {trigger: t, source: OPEN, dest: OPNE}\n",
            encoding="utf-8",
        )
        code, out, err = run(capsys, "broken.yaml", "review.yaml")
        assert code == 2  # an invalid file wins over findings
        assert out.count("\n") == 3  # the valid file is still linted
        assert main(["validate", "broken.yaml"]) == 1
        _, validate_err = capsys.readouterr()
        assert err == validate_err
        assert err.startswith("broken.yaml: transitions[0].dest: state 'OPNE' is not defined")

    def test_a_missing_file(self, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        code, out, err = run(capsys, "nope.yaml")
        assert (code, out) == (2, "")
        assert err == "nope.yaml: file not found: nope.yaml\n"

    @pytest.mark.parametrize(
        "args",
        [[], ["review.yaml", "--format", "xml"], ["review.yaml", "--module"]],
        ids=["no-file", "bad-format", "module-without-name"],
    )
    def test_usage_mistakes(
        self, workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str]
    ) -> None:
        code, out, err = run(capsys, *args)
        assert (code, out) == (2, "")
        assert err.startswith("error: pystator lint: ")
        assert err.count("\n") == 1


class TestModules:
    def test_unregistered_guards_and_actions(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (workdir / "lint_hooks_a.py").write_text(HOOKS, encoding="utf-8")
        code, out, err = run(capsys, "orders.yaml", "--module", "lint_hooks_a")
        assert code == 1
        assert out.splitlines() == [
            "orders.yaml: transitions[0].guards[0]: unregistered-guard: guard 'is_full_fil' is "
            "not registered by the given modules: register it, or fix the name; did you mean "
            "'is_full_fill'?",
            "orders.yaml: transitions[0].actions[0]: unregistered-action: action 'notify' is not "
            "registered by the given modules: register it, or fix the name",
        ]
        assert err == "importing the hooks\n"  # what the module prints goes to stderr

    def test_everything_registered_across_modules(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (workdir / "lint_hooks_b.py").write_text(HOOKS, encoding="utf-8")
        (workdir / "lint_more_b.py").write_text(
            "from pystator import StateMachine\n"
            "from pystator.loaders import load_file\n"
            "machine = StateMachine.from_definition(load_file('orders.yaml'))\n"
            "machine.guard('is_full_fil')(lambda ctx: True)\n"
            "machine.action('notify')(lambda ctx: None)\n",
            encoding="utf-8",
        )
        args = ["orders.yaml", "--module", "lint_hooks_b", "--module", "lint_more_b"]
        code, out, _ = run(capsys, *args, "--format", "json")
        assert (code, json.loads(out)) == (0, [])

    def test_a_module_without_registrations_gets_a_note(
        self, workdir: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (workdir / "lint_empty_c.py").write_text("VALUE = 1\n", encoding="utf-8")
        code, _, err = run(capsys, "orders.yaml", "--module", "lint_empty_c")
        assert code == 1
        assert err.startswith("note: --module lint_empty_c has no module-level guard or action")

    @pytest.mark.parametrize(
        ("source", "reason"),
        [
            (None, "(ModuleNotFoundError: No module named 'lint_absent_d')"),
            ("raise ValueError('boom')\n", "(ValueError: boom)"),
            ("import sys\nsys.exit(3)\n", "(SystemExit: 3)"),
            ("def broken(:\n", "(SyntaxError: "),
        ],
        ids=["missing", "raises", "exits", "syntax-error"],
    )
    def test_a_module_that_does_not_import_is_one_line_and_exit_2(
        self,
        workdir: Path,
        capsys: pytest.CaptureFixture[str],
        source: str | None,
        reason: str,
    ) -> None:
        if source is not None:
            (workdir / "lint_absent_d.py").write_text(source, encoding="utf-8")
        code, out, err = run(capsys, "orders.yaml", "--module", "lint_absent_d")
        assert (code, out) == (2, "")
        assert err.startswith(f"error: --module lint_absent_d: cannot import it {reason}")
        assert err.count("\n") == 1


def test_the_command_line_runs_it(tmp_path: Path) -> None:
    (tmp_path / "review.yaml").write_text(SHADOWED, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pystator", "lint", "review.yaml", "--module", "not_there"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: --module not_there: cannot import it "
        "(ModuleNotFoundError: No module named 'not_there')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pystator", "lint", "review.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[1].startswith(
        "review.yaml: transitions[1]: shadowed-transition"
    )
    help_text = subprocess.run(
        [sys.executable, "-m", "pystator", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    ).stdout
    assert "lint" in help_text
