"""``pystator schema``: the machine schema (``$id``, ``examples``) and ``--machine FILE``,
the schemas of one machine's context and event payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pystator._version import __version__
from pystator.cli import main
from pystator.engine.expr import compile_expression
from pystator.models.definition import duration_ms
from tests.conftest import ROOT

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

DIALECT = "https://json-schema.org/draft/2020-12/schema"

ORDER_YAML = """\
meta: {machine_name: order, version: "2.1.0"}
context:
  fields:
    order_id: {type: string, required: true}
    order_qty: {type: integer, required: true, minimum: 1}
    filled_qty: {type: integer, default: 0}
    side: {type: string, enum: [buy, sell]}
  additional_keys: false
events:
  fill:
    description: A fill reported by the exchange.
    fields:
      qty: {type: integer, required: true, minimum: 1}
  cancel:
    fields:
      reason: {type: string}
states:
  - {name: OPEN, type: initial}
  - {name: FILLED, type: terminal}
  - {name: CANCELLED, type: terminal}
transitions:
  - trigger: fill
    source: OPEN
    dest: FILLED
    assign: {filled_qty: "filled_qty + qty"}
  - {trigger: cancel, source: OPEN, dest: CANCELLED}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def order_file(tmp_path: Path) -> Path:
    path = tmp_path / "order.yaml"
    path.write_text(ORDER_YAML, encoding="utf-8")
    return path


def validator(schema: dict[str, Any]) -> Any:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def machine_schema(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = run(capsys, "schema")
    assert (code, err) == (0, "")
    schema: dict[str, Any] = json.loads(out)
    return schema


def examples_in(node: Any, pointer: str = "") -> list[tuple[str, Any]]:
    """Every ``examples`` entry of a schema with the JSON pointer of the schema holding it."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("examples"), list):
            found += [(pointer, example) for example in node["examples"]]
        for key, value in node.items():
            if key != "examples":
                found += examples_in(value, f"{pointer}/{key.replace('~', '~0')}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += examples_in(value, f"{pointer}/{i}")
    return found


class TestMachineSchema:
    def test_has_a_stable_urn_id_and_the_dialect(self, capsys: pytest.CaptureFixture[str]) -> None:
        schema = machine_schema(capsys)
        major = __version__.split(".")[0]
        assert schema["$id"] == f"urn:pystator:schema:machine:{major}"
        assert schema["$schema"] == DIALECT
        assert list(schema)[:2] == ["$schema", "$id"]
        jsonschema.Draft202012Validator.check_schema(schema)

    def test_committed_copy_has_the_id_and_examples(self) -> None:
        committed = json.loads((ROOT / "schemas" / "machine.schema.json").read_text("utf-8"))
        assert committed["$id"].startswith("urn:pystator:schema:machine:")
        assert examples_in(committed)

    def test_examples_where_they_help_completion(self, capsys: pytest.CaptureFixture[str]) -> None:
        defs = machine_schema(capsys)["$defs"]
        transition = defs["TransitionDefinition"]["properties"]
        assert "5s" in transition["after"]["examples"]
        assert "fill" in transition["trigger"]["examples"]
        assert {"filled_qty": "filled_qty + qty"} in transition["assign"]["examples"]
        assert "fill_qty >= order_qty" in defs["GuardSpec"]["properties"]["expr"]["examples"]
        assert defs["AssignSpec"]["properties"]["assign"]["examples"]
        assert defs["StateDefinition"]["properties"]["name"]["examples"]
        assert defs["ContextSpec"]["properties"]["fields"]["examples"]
        assert defs["EventSpec"]["properties"]["fields"]["examples"]
        events = machine_schema(capsys)["properties"]["events"]
        assert "fill" in events["examples"][0]

    def test_every_example_is_valid_where_it_stands(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        schema = machine_schema(capsys)
        # Resolving each example's place through the $id also proves that the URN resolves
        # the schema's own "#/$defs/..." references.
        registry = referencing.Registry().with_resource(
            schema["$id"], referencing.Resource.from_contents(schema)
        )
        found = examples_in(schema)
        assert len(found) >= 20
        for pointer, example in found:
            check = jsonschema.Draft202012Validator(
                {"$ref": f"{schema['$id']}#{pointer}"}, registry=registry
            )
            errors = [e.message for e in check.iter_errors(example)]
            assert not errors, (pointer, example, errors)

    def test_expression_and_delay_examples_compile(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        defs = machine_schema(capsys)["$defs"]
        for expr in defs["GuardSpec"]["properties"]["expr"]["examples"]:
            compile_expression(expr)
        assigns = (
            defs["AssignSpec"]["properties"]["assign"]["examples"]
            + defs["TransitionDefinition"]["properties"]["assign"]["examples"]
        )
        for assign in assigns:
            for expression in assign.values():
                compile_expression(expression)
        for delay in defs["TransitionDefinition"]["properties"]["after"]["examples"]:
            assert duration_ms(delay) > 0


class TestMachineDataSchemas:
    def test_stdout_holds_the_context_and_each_event(
        self, capsys: pytest.CaptureFixture[str], order_file: Path
    ) -> None:
        code, out, err = run(capsys, "schema", "--machine", order_file)
        assert (code, err) == (0, "")
        document = json.loads(out)
        assert set(document) == {"context", "events"}
        assert set(document["events"]) == {"fill", "cancel"}
        context = document["context"]
        assert context["$schema"] == DIALECT
        assert context["$id"] == "urn:pystator:machine:order:2:context"
        assert context["title"] == "order context"
        fill = document["events"]["fill"]
        assert fill["$id"] == "urn:pystator:machine:order:2:event:fill"
        assert fill["$schema"] == DIALECT
        assert fill["description"] == "A fill reported by the exchange."

    def test_context_schema_accepts_a_good_context_and_refuses_a_bad_one(
        self, capsys: pytest.CaptureFixture[str], order_file: Path
    ) -> None:
        code, out, _ = run(capsys, "schema", "--machine", order_file)
        assert code == 0
        context = validator(json.loads(out)["context"])
        assert context.is_valid({"order_id": "A1", "order_qty": 5, "side": "buy"})
        assert not context.is_valid({"order_id": "A1"})  # order_qty is required
        assert not context.is_valid({"order_id": "A1", "order_qty": 0})  # minimum 1
        assert not context.is_valid({"order_id": "A1", "order_qty": "5"})
        assert not context.is_valid({"order_id": "A1", "order_qty": 5, "side": "short"})
        assert not context.is_valid({"order_id": "A1", "order_qty": 5, "typo": 1})

    def test_event_schemas_check_payloads(
        self, capsys: pytest.CaptureFixture[str], order_file: Path
    ) -> None:
        code, out, _ = run(capsys, "schema", "--machine", order_file)
        assert code == 0
        events = json.loads(out)["events"]
        fill = validator(events["fill"])
        assert fill.is_valid({"qty": 3})
        assert not fill.is_valid({})
        assert not fill.is_valid({"qty": 0})
        assert not fill.is_valid({"qty": "three"})
        cancel = validator(events["cancel"])
        assert cancel.is_valid({"reason": "user"})
        assert not cancel.is_valid({"reason": 7})

    def test_output_directory_gets_one_file_per_schema(
        self, capsys: pytest.CaptureFixture[str], order_file: Path, tmp_path: Path
    ) -> None:
        folder = tmp_path / "out" / "schemas"
        code, out, err = run(capsys, "schema", "--machine", order_file, "-o", folder)
        assert (code, err) == (0, "")
        names = {
            "order.context.schema.json",
            "order.event.fill.schema.json",
            "order.event.cancel.schema.json",
        }
        assert {p.name for p in folder.iterdir()} == names
        assert {Path(line).name for line in out.splitlines()} == names
        _, stdout, _ = run(capsys, "schema", "--machine", order_file)
        document = json.loads(stdout)
        context = json.loads((folder / "order.context.schema.json").read_text("utf-8"))
        assert context == document["context"]
        fill = json.loads((folder / "order.event.fill.schema.json").read_text("utf-8"))
        assert fill == document["events"]["fill"]
        for name in names:
            schema = json.loads((folder / name).read_text("utf-8"))
            assert schema["$schema"] == DIALECT
            assert schema["$id"].startswith("urn:pystator:machine:order:2:")

    def test_machine_without_context_or_events(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        path = tmp_path / "plain.json"
        path.write_text(
            json.dumps({"meta": {"machine_name": "plain"}, "states": [{"name": "A"}]}),
            encoding="utf-8",
        )
        code, out, _ = run(capsys, "schema", "--machine", path)
        assert code == 0
        document = json.loads(out)
        assert document["events"] == {}
        assert validator(document["context"]).is_valid({"anything": [1, 2]})

    def test_matches_the_machine_methods(
        self, capsys: pytest.CaptureFixture[str], order_file: Path
    ) -> None:
        from pystator import StateMachine

        machine = StateMachine.from_yaml(order_file)
        _, out, _ = run(capsys, "schema", "--machine", order_file)
        document = json.loads(out)
        drop = {"$schema", "$id", "title", "description"}
        context = {k: v for k, v in document["context"].items() if k not in drop}
        assert context == {k: v for k, v in machine.context_schema().items() if k not in drop}
        for trigger, schema in machine.event_schemas().items():
            printed = {k: v for k, v in document["events"][trigger].items() if k not in drop}
            assert printed == {k: v for k, v in schema.items() if k not in drop}


class TestErrors:
    def test_missing_file(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        missing = tmp_path / "nope.yaml"
        code, out, err = run(capsys, "schema", "--machine", missing)
        assert code == 1
        assert out == ""
        line = error_line(err)
        assert line.startswith(f"error: {missing}: ")
        assert "not found" in line

    def test_bad_definition(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        path = tmp_path / "broken.yaml"
        path.write_text(
            "meta: {machine_name: m}\n"
            "states: [{name: OPEN}]\n"
            "transitions:\n"
            "  - {trigger: t, source: OPEN, dest: OPNE}\n",
            encoding="utf-8",
        )
        code, out, err = run(capsys, "schema", "--machine", path)
        assert code == 1
        assert out == ""
        line = error_line(err)
        assert line.startswith(f"error: {path}: transitions[0].dest")
        assert "OPNE" in line

    def test_event_of_no_trigger(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        path = tmp_path / "events.yaml"
        path.write_text(
            "meta: {machine_name: m}\n"
            "states: [{name: A}, {name: B}]\n"
            "transitions: [{trigger: go, source: A, dest: B}]\n"
            "events: {og: {fields: {n: {type: integer}}}}\n",
            encoding="utf-8",
        )
        code, _, err = run(capsys, "schema", "--machine", path)
        assert code == 1
        assert "events.og" in error_line(err)

    def test_output_must_be_a_directory(
        self, capsys: pytest.CaptureFixture[str], order_file: Path, tmp_path: Path
    ) -> None:
        existing = tmp_path / "file.json"
        existing.write_text("{}", encoding="utf-8")
        code, _, err = run(capsys, "schema", "--machine", order_file, "-o", existing)
        assert code == 2
        assert "directory" in error_line(err)
        assert existing.read_text(encoding="utf-8") == "{}"

    @pytest.mark.parametrize("machine", [True, False])
    def test_an_output_path_that_cannot_be_made_names_the_option(
        self, capsys: pytest.CaptureFixture[str], order_file: Path, tmp_path: Path, machine: bool
    ) -> None:
        file = tmp_path / "file"
        file.write_text("", encoding="utf-8")
        target = file / "sub"
        args = ["schema", "--machine", order_file] if machine else ["schema"]
        code, out, err = run(capsys, *args, "-o", target)
        assert code == 1
        line = error_line(err)
        assert line.startswith(f"error: -o {target}: cannot ")
        assert line.endswith(": Not a directory")
        assert "Errno" not in line
        assert out == ""
