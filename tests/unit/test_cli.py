"""The command line through ``python -m pystator``: exit codes and one readable error line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pystator import ConfigurationError, MachineDefinition, StateMachine
from tests.conftest import ROOT
from tests.unit.conftest import ORDER


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pystator", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The whole of stderr, which must be one line and no traceback."""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def order_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "order.yaml"
    path.write_text(StateMachine.from_dict(ORDER).to_yaml(), encoding="utf-8")
    return path


@pytest.fixture
def broken_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "meta: {machine_name: m}\n"
        "states: [{name: OPEN}]\n"
        "transitions:\n"
        "  - {trigger: t, source: OPEN, dest: OPNE}\n",
        encoding="utf-8",
    )
    return path


class TestSchema:
    def test_prints_the_json_schema(self) -> None:
        proc = cli("schema")
        assert proc.returncode == 0
        assert proc.stderr == ""
        schema = json.loads(proc.stdout)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert (
            schema["properties"].keys()
            == MachineDefinition.model_json_schema()["properties"].keys()
        )

    def test_writes_to_a_file(self, tmp_path: Path) -> None:
        out = tmp_path / "schema.json"
        proc = cli("schema", "-o", out)
        assert proc.returncode == 0
        assert proc.stdout == ""
        assert json.loads(out.read_text(encoding="utf-8")) == json.loads(cli("schema").stdout)


class TestValidate:
    def test_valid_files(self, order_yaml: Path, tmp_path: Path) -> None:
        as_json = tmp_path / "order.json"
        as_json.write_text(json.dumps(ORDER), encoding="utf-8")
        proc = cli("validate", order_yaml, as_json)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        assert lines == [
            f"{order_yaml}: ok (order_management v1.0.0, 4 states, 3 transitions)",
            f"{as_json}: ok (order_management v1.0.0, 4 states, 3 transitions)",
        ]

    def test_invalid_file(self, broken_yaml: Path) -> None:
        proc = cli("validate", broken_yaml)
        assert proc.returncode == 1
        assert one_error_line(proc) == (
            f"{broken_yaml}: transitions[0].dest: state 'OPNE' is not defined; "
            "did you mean 'OPEN'? (line 4)"
        )

    def test_every_problem_one_line_each(self, tmp_path: Path) -> None:
        path = tmp_path / "two.json"
        path.write_text(
            json.dumps(
                {
                    "meta": {"machine_name": "m"},
                    "states": [{"name": "A"}],
                    "transitions": [{"trigger": "t", "source": "B", "dest": "C"}],
                }
            ),
            encoding="utf-8",
        )
        proc = cli("validate", path)
        assert proc.returncode == 1
        assert proc.stderr.splitlines() == [
            f"{path}: transitions[0].source: state 'B' is not defined",
            f"{path}: transitions[0].dest: state 'C' is not defined",
        ]

    def test_mixed_files_fail_but_report_both(self, order_yaml: Path, broken_yaml: Path) -> None:
        proc = cli("validate", order_yaml, broken_yaml)
        assert proc.returncode == 1
        assert f"{order_yaml}: ok" in proc.stdout
        assert str(broken_yaml) in proc.stderr

    def test_missing_file(self, tmp_path: Path) -> None:
        missing = tmp_path / "nope.yaml"
        proc = cli("validate", missing)
        assert proc.returncode == 1
        assert one_error_line(proc) == f"{missing}: file not found: {missing}"

    def test_unsafe_yaml(self, tmp_path: Path) -> None:
        path = tmp_path / "evil.yaml"
        path.write_text("!!python/object/apply:os.system ['echo pwned']\n", encoding="utf-8")
        proc = cli("validate", path)
        assert proc.returncode == 1
        assert "could not determine a constructor" in one_error_line(proc)
        assert "pwned" not in proc.stdout

    def test_counts_every_state(self, tmp_path: Path) -> None:
        path = tmp_path / "nested.yaml"
        path.write_text(
            "meta: {machine_name: nested}\n"
            "states:\n"
            "  - {name: A, type: initial}\n"
            "  - {name: B}\n"
            "  - {name: B1, parent: B}\n"
            "  - {name: B2, parent: B}\n"
            "  - {name: BH, type: history, parent: B}\n"
            "  - name: P\n"
            "    type: parallel\n"
            "    regions:\n"
            "      - {name: r1, states: [X, Y]}\n"
            "      - {name: r2, states: [Z]}\n"
            "transitions:\n"
            "  - {trigger: go, source: A, dest: B}\n",
            encoding="utf-8",
        )
        proc = cli("validate", path)
        assert proc.returncode == 0, proc.stderr
        # Regions are not states; the history state is.
        assert proc.stdout == f"{path}: ok (nested v1.0.0, 9 states (3 top-level), 1 transition)\n"

    @pytest.mark.parametrize(
        ("guard", "issue"),
        [
            (
                '{expr: "qty >= "}',
                "transitions[0].guards[0].expr: expression 'qty >= ': invalid syntax",
            ),
            ("{expr: '__import__(\"os\")'}", "transitions[0].guards[0].expr"),
        ],
        ids=["syntax", "import"],
    )
    def test_refuses_what_the_machine_refuses(self, tmp_path: Path, guard: str, issue: str) -> None:
        path = tmp_path / "guarded.yaml"
        path.write_text(
            "meta: {machine_name: m}\n"
            "states: [{name: A}, {name: B}]\n"
            f"transitions: [{{trigger: go, source: A, dest: B, guards: [{guard}]}}]\n",
            encoding="utf-8",
        )
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_yaml(path)
        expected = [f"{path}: {i}" for i in info.value.issues]
        assert expected[0].startswith(f"{path}: {issue}")
        proc = cli("validate", path)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert proc.stderr.splitlines() == expected


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Chains of states 1,000 (the limit) and 5,000 levels deep, as JSON files."""
    from tests.unit.test_deep_definitions import chain

    out = {}
    for levels in (1000, 5000):
        path = tmp_path_factory.mktemp("deep") / f"chain{levels}.json"
        path.write_text(json.dumps(chain(levels)), encoding="utf-8")
        out[levels] = path
    return out


class TestDeepDefinitions:
    """A chain of states as deep as allowed works everywhere; a deeper one is one error line."""

    too_deep = (
        "states[1001].parent: 'S1000' is nested 1001 levels deep: a state may be nested at "
        "most 1000 levels (parents and regions count)"
    )

    def test_validate(self, files: dict[int, Path]) -> None:
        ok = cli("validate", files[1000])
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout == (
            f"{files[1000]}: ok (deep v1.0.0, 1003 states (3 top-level), 5 transitions)\n"
        )
        refused = cli("validate", files[5000])
        assert refused.returncode == 1
        assert one_error_line(refused) == f"{files[5000]}: {self.too_deep}"

    def test_process_into_the_deepest_leaf(self, files: dict[int, Path]) -> None:
        ok = cli("process", files[1000], "IDLE", "dive")
        assert ok.returncode == 0, ok.stderr
        result = json.loads(ok.stdout)
        assert result["target_state"] == "S999"
        assert len(result["entered_states"]) == 1000
        refused = cli("process", files[5000], "IDLE", "dive")
        assert refused.returncode == 1
        assert self.too_deep in one_error_line(refused)

    @pytest.mark.parametrize("fmt", ["mermaid", "dot"])
    def test_diagram(self, files: dict[int, Path], fmt: str) -> None:
        ok = cli("diagram", files[1000], "--format", fmt)
        assert ok.returncode == 0, ok.stderr
        assert "S999" in ok.stdout
        refused = cli("diagram", files[5000], "--format", fmt)
        assert refused.returncode == 1
        assert one_error_line(refused) == f"error: {files[5000]}: {self.too_deep}"


class TestProcess:
    def test_success_prints_the_result_as_json(self, order_yaml: Path) -> None:
        proc = cli("process", order_yaml, "PENDING", "exchange_ack")
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["success"] is True
        assert data["target_state"] == "OPEN"
        assert data["error"] is None

    def test_failed_result_exits_1_with_the_json(self, order_yaml: Path) -> None:
        proc = cli("process", order_yaml, "PENDING", "fill")
        assert proc.returncode == 1
        data = json.loads(proc.stdout)
        assert data["success"] is False
        assert data["error"]["code"] == "INVALID_TRIGGER"
        assert data["metadata"]["reason"] == "invalid_transition"

    @pytest.mark.parametrize(
        ("outcome", "code", "target"), [("true", 0, "FILLED"), ("false", 1, None)]
    )
    def test_guard_outcomes_come_from_the_command_line(
        self, order_yaml: Path, outcome: str, code: int, target: Any
    ) -> None:
        proc = cli("process", order_yaml, "OPEN", "fill", "--guard", f"is_full_fill={outcome}")
        assert proc.returncode == code, proc.stderr
        assert json.loads(proc.stdout)["target_state"] == target

    def test_a_needed_guard_outcome_must_be_given(self, order_yaml: Path) -> None:
        proc = cli("process", order_yaml, "OPEN", "fill")
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert one_error_line(proc) == (
            "error: the transition needs guard 'is_full_fill': "
            "pass --guard is_full_fill=true or =false"
        )

    def test_context_is_passed(self, order_yaml: Path) -> None:
        proc = cli("process", order_yaml, "PENDING", "exchange_ack", "--context", '{"a": 1}')
        assert proc.returncode == 0, proc.stderr

    @pytest.mark.parametrize(
        ("context", "message"),
        [
            ("[1, 2]", "error: --context must be a JSON object"),
            ("{bad", "error: --context is not valid JSON: line 1, column 2: invalid JSON:"),
            (
                '{"x": NaN}',
                "error: --context is not valid JSON: invalid JSON: NaN is not valid JSON",
            ),
        ],
    )
    def test_bad_context(self, order_yaml: Path, context: str, message: str) -> None:
        proc = cli("process", order_yaml, "PENDING", "exchange_ack", "--context", context)
        assert proc.returncode == 2
        assert one_error_line(proc).startswith(message)

    def test_bad_guard_flag(self, order_yaml: Path) -> None:
        proc = cli("process", order_yaml, "OPEN", "fill", "--guard", "is_full_fill")
        assert proc.returncode == 2
        assert one_error_line(proc) == (
            "error: --guard expects NAME=true or NAME=false, got 'is_full_fill'"
        )

    def test_undefined_state(self, order_yaml: Path) -> None:
        proc = cli("process", order_yaml, "OPNE", "fill")
        assert proc.returncode == 1
        assert proc.stdout == ""
        assert one_error_line(proc) == (
            "error: state 'OPNE' is not defined in machine 'order_management'; did you mean 'OPEN'?"
        )

    def test_invalid_definition(self, broken_yaml: Path) -> None:
        proc = cli("process", broken_yaml, "OPEN", "t")
        assert proc.returncode == 1
        assert one_error_line(proc).startswith(
            f"error: invalid machine definition in {broken_yaml}"
        )


class TestUsage:
    def test_unknown_command(self) -> None:
        proc = cli("bogus")
        assert proc.returncode == 2
        line = one_error_line(proc)
        assert line.startswith("error: pystator: argument COMMAND: invalid choice: 'bogus'")
        assert line.endswith("(see pystator --help)")

    def test_missing_arguments(self) -> None:
        proc = cli("process")
        assert proc.returncode == 2
        assert "the following arguments are required" in one_error_line(proc)

    def test_no_command_prints_help(self) -> None:
        proc = cli()
        assert proc.returncode == 2
        assert "usage: pystator" in proc.stdout

    def test_version(self) -> None:
        import pystator

        proc = cli("--version")
        assert proc.returncode == 0
        assert proc.stdout.strip() == f"pystator {pystator.__version__}"
