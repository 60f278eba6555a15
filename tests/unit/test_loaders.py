"""Loaders: safe YAML, strict JSON, dicts and files in; lossless dict/YAML/JSON out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pystator import ConfigurationError, MachineDefinition, StateMachine
from pystator.loaders import (
    definition_from_data,
    definition_to_dict,
    definition_to_json,
    definition_to_yaml,
    load_file,
    load_json_string,
    load_yaml_string,
    safe_yaml,
)
from tests.conftest import ROOT
from tests.unit.conftest import ORDER, definition

BASE_YAML = """\
meta:
  machine_name: m
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: go, source: A, dest: B}
"""


@pytest.fixture(params=["libyaml", "pure"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on libyaml's C parser and on PyYAML's pure-Python one."""
    if request.param == "libyaml" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    monkeypatch.setattr(safe_yaml, "USE_LIBYAML", request.param == "libyaml")
    return str(request.param)


def yaml_issues(text: str, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigurationError) as info:
        load_yaml_string(text, **kwargs)
    return [str(i) for i in info.value.issues]


def json_issues(text: str | bytes, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigurationError) as info:
        load_json_string(text, **kwargs)
    return [str(i) for i in info.value.issues]


@pytest.mark.usefixtures("yaml_parser")
class TestYamlSafety:
    def test_plain_definition_loads(self) -> None:
        d = load_yaml_string(BASE_YAML)
        assert [s.name for s in d.states] == ["A", "B"]
        assert d.transitions[0].dest == "B"

    @pytest.mark.parametrize(
        "text",
        [
            "!!python/object/apply:os.system ['true']\n",
            "meta: !!python/name:os.system {}\nstates: [{name: A}]\n",
            "meta: {machine_name: !!python/str m}\nstates: [{name: A}]\n",
            "meta: !custom {machine_name: m}\nstates: [{name: A}]\n",
        ],
        ids=["object-apply", "name", "python-str", "custom-tag"],
    )
    def test_tags_are_refused(self, text: str) -> None:
        (issue,) = yaml_issues(text)
        assert "could not determine a constructor for the tag" in issue
        assert issue.startswith("line 1, column ")

    @pytest.mark.parametrize("tag", ["!!set {a, b}", "!!omap [{a: 1}]", "!!pairs [{a: 1}]"])
    def test_exotic_collections_are_refused(self, tag: str) -> None:
        (issue,) = yaml_issues(f"meta: {{machine_name: m}}\nstates: {tag}\n")
        assert issue.startswith("line 2")

    def test_anchor_is_refused_with_its_line(self) -> None:
        text = BASE_YAML + "extra: &a [1, 2]\n"
        assert yaml_issues(text) == [
            "line 8: YAML anchors (&a) are not allowed in machine definitions"
        ]

    def test_alias_is_refused(self) -> None:
        # An alias without its anchor still never resolves into shared data.
        issues = yaml_issues("meta: {machine_name: m}\nstates: *undefined\n")
        assert issues == ["line 2: YAML aliases (*name) are not allowed in machine definitions"]

    def test_merge_key_is_refused(self) -> None:
        text = "meta:\n  <<: {machine_name: m}\nstates: [{name: A}]\n"
        assert yaml_issues(text) == [
            "line 2: YAML merge keys (<<) are not allowed in machine definitions"
        ]

    def test_duplicate_top_level_key(self) -> None:
        text = BASE_YAML + "meta:\n  machine_name: n\n"
        assert yaml_issues(text) == ["line 8: duplicate key 'meta' (first at line 1)"]

    def test_duplicate_nested_key(self) -> None:
        text = "meta: {machine_name: m}\nstates:\n  - name: A\n    type: initial\n    name: B\n"
        assert yaml_issues(text) == ["line 5: duplicate key 'name' (first at line 3)"]

    def test_size_limit(self) -> None:
        text = BASE_YAML + "# " + "x" * 200 + "\n"
        (issue,) = yaml_issues(text, max_bytes=100)
        assert issue == "YAML input is larger than the limit of 100 bytes"
        assert load_yaml_string(text, max_bytes=len(text.encode())).states

    def test_size_limit_counts_bytes_not_characters(self) -> None:
        text = BASE_YAML + "# " + "é" * 60 + "\n"
        assert len(text) < len(text.encode())
        (issue,) = yaml_issues(text, max_bytes=len(text) + 1)
        assert "larger than the limit" in issue

    def test_nul_byte(self) -> None:
        assert yaml_issues(BASE_YAML + "# \x00\n") == ["YAML input contains a NUL byte"]

    def test_invalid_syntax_has_line_and_column(self) -> None:
        (issue,) = yaml_issues("meta: {machine_name: m\nstates: [{name: A}]\n")
        assert issue.startswith("line 2, column 7: invalid YAML:")

    def test_several_documents_are_refused(self) -> None:
        (issue,) = yaml_issues(BASE_YAML + "---\n" + BASE_YAML)
        assert "invalid YAML" in issue
        assert "another document" in issue

    @pytest.mark.parametrize(
        ("text", "kind"), [("", "empty"), ("# only a comment\n", "empty"), ("- a\n", "a list")]
    )
    def test_not_a_mapping(self, text: str, kind: str) -> None:
        assert yaml_issues(text) == [
            "a machine definition must be a mapping with 'meta', 'states' and 'transitions', "
            f"got {kind}"
        ]

    def test_complex_key_is_refused(self) -> None:
        assert yaml_issues("? [a, b]\n: 1\n") == ["line 1: a mapping key must be a plain value"]


@pytest.mark.usefixtures("yaml_parser")
class TestYaml11Booleans:
    NAMES = ("on", "off", "yes", "no", "On", "OFF", "Yes", "NO", "y", "n", "Y", "N")

    def test_boolean_words_stay_names(self) -> None:
        states = ", ".join(f"{{name: {n}}}" for n in self.NAMES)
        text = (
            "meta: {machine_name: m}\n"
            f"states: [{states}]\n"
            "transitions:\n"
            "  - {trigger: on, source: off, dest: on}\n"
            "  - {trigger: no, source: [yes, y], dest: n}\n"
        )
        d = load_yaml_string(text)
        assert tuple(s.name for s in d.states) == self.NAMES
        assert (d.transitions[0].trigger, d.transitions[0].source, d.transitions[0].dest) == (
            "on",
            "off",
            "on",
        )
        assert d.transitions[1].trigger == "no"
        assert d.transitions[1].source == ("yes", "y")

    def test_on_as_a_key_is_a_string_key(self) -> None:
        # YAML 1.1 would read the key ``on`` as True; here it is the unknown key 'on'.
        text = BASE_YAML + "  - {on: go, source: A, dest: B}\n"
        issues = yaml_issues(text)
        assert (
            "transitions[1].on: unknown key (check its spelling and its indentation) (line 8)"
            in issues
        )

    def test_true_and_false_are_still_booleans(self) -> None:
        text = "meta: {machine_name: m, strict_mode: false}\nstates: [{name: A}]\n"
        assert load_yaml_string(text).meta.strict_mode is False

    def test_machine_named_with_a_boolean_word(self) -> None:
        text = "meta: {machine_name: yes}\nstates: [{name: A}]\n"
        assert load_yaml_string(text).meta.machine_name == "yes"

    def test_true_as_a_state_name_is_an_error_not_a_string(self) -> None:
        issues = yaml_issues("meta: {machine_name: m}\nstates: [{name: A}, {name: true}]\n")
        assert issues == ["states[1].name: Input should be a valid string (line 2)"]


@pytest.mark.usefixtures("yaml_parser")
class TestYamlLines:
    def test_reference_error_points_at_the_line(self) -> None:
        text = BASE_YAML + "  - trigger: back\n    source: B\n    dest: AA\n"
        assert yaml_issues(text) == [
            "transitions[1].dest: state 'AA' is not defined; did you mean 'A'? (line 10)"
        ]

    def test_field_error_points_at_the_line(self) -> None:
        text = BASE_YAML + "  - {trigger: go, source: A, dest: B, prority: 2}\n"
        assert yaml_issues(text) == [
            "transitions[1].prority: unknown key (check its spelling and its indentation) (line 8)"
        ]

    def test_missing_key_points_at_its_parent(self) -> None:
        text = "meta:\n  version: '1'\nstates:\n  - {name: A}\n"
        assert yaml_issues(text) == ["meta.machine_name: required key is missing (line 1)"]

    def test_file_source_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "m.yaml"
        path.write_text(BASE_YAML.replace("dest: B", "dest: C"), encoding="utf-8")
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_yaml(path)
        assert info.value.source == str(path)
        assert str(info.value) == (
            f"invalid machine definition in {path}: "
            "transitions[0].dest: state 'C' is not defined (line 7)"
        )


class TestJson:
    @pytest.mark.parametrize(
        "text",
        ['["' + '\\"' * 500_000, '["' + '\\\n"' * 300_000, "[" + '"' * 1_000_000],
        ids=["escaped-quotes", "escaped-newlines", "quotes"],
    )
    def test_the_depth_check_is_linear_on_unterminated_strings(self, text: str) -> None:
        # The bracket scan before json.loads once rescanned to the end from every quote of an
        # unterminated string: 1 MiB of '\\"' took about 40 minutes. Linear, it is a fraction
        # of a second; the deadline only tells a hang from an answer.
        import threading

        from pystator.loaders.definition_io import parse_json_text

        outcome: list[BaseException] = []

        def parse() -> None:
            try:
                parse_json_text(text, max_bytes=2_000_000)
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=parse, daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "the depth check did not finish: it is not linear"
        assert len(outcome) == 1
        assert isinstance(outcome[0], ConfigurationError)

    def test_plain_definition_loads(self) -> None:
        d = load_json_string(json.dumps(ORDER))
        assert d == MachineDefinition.model_validate(ORDER)

    def test_bytes_input(self) -> None:
        assert load_json_string(json.dumps(ORDER).encode()).meta.machine_name == "order_management"

    @pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
    def test_non_finite_constants_are_refused(self, constant: str) -> None:
        data = json.dumps(ORDER).replace('"version": "1.0.0"', f'"version": "1", "x": {constant}')
        (issue,) = json_issues(data)
        assert issue == f"invalid JSON: {constant} is not valid JSON"

    def test_duplicate_keys_are_refused(self) -> None:
        text = '{"meta": {"machine_name": "m"}, "states": [{"name": "A", "name": "B"}]}'
        assert json_issues(text) == ["invalid JSON: duplicate key 'name'"]

    def test_syntax_error_has_line_and_column(self) -> None:
        (issue,) = json_issues('{\n  "meta": {,\n}')
        assert issue.startswith("line 2, column 12: invalid JSON:")

    def test_size_limit(self) -> None:
        text = json.dumps(ORDER)
        (issue,) = json_issues(text, max_bytes=50)
        assert issue == "JSON input is larger than the limit of 50 bytes"

    def test_size_limit_counts_bytes_not_characters(self) -> None:
        text = json.dumps(definition([{"name": "A", "description": "é" * 60}]), ensure_ascii=False)
        assert len(text) < len(text.encode())
        (issue,) = json_issues(text, max_bytes=len(text) + 1)
        assert issue == f"JSON input is larger than the limit of {len(text) + 1} bytes"
        assert load_json_string(text, max_bytes=len(text.encode())).states[0].description

    def test_not_utf8(self) -> None:
        (issue,) = json_issues(b'{"meta": "\xff\xfe"}')
        assert issue.startswith("invalid JSON")

    @pytest.mark.parametrize(
        ("text", "kind"), [("[]", "a list"), ("null", "empty"), ("3", "a int")]
    )
    def test_not_an_object(self, text: str, kind: str) -> None:
        assert json_issues(text) == [
            "a machine definition must be a mapping with 'meta', 'states' and 'transitions', "
            f"got {kind}"
        ]

    def test_validation_errors_have_paths(self) -> None:
        data = definition([{"name": "A"}], [{"trigger": "t", "source": "A", "dest": "Z"}])
        assert json_issues(json.dumps(data)) == ["transitions[0].dest: state 'Z' is not defined"]


class TestJsonDataOnly:
    """Free-form data (params, metadata) must survive JSON: no NaN, infinities or objects."""

    @pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
    def test_yaml_non_finite_numbers(self, value: str) -> None:
        text = BASE_YAML.replace(
            "dest: B}", f"dest: B, actions: [{{name: a, params: {{x: {value}}}}}]}}"
        )
        (issue,) = yaml_issues(text)
        assert issue.startswith("transitions[0].actions[0].params: ")
        assert "is not a JSON number (line 7)" in issue

    def test_json_number_overflowing_to_infinity(self) -> None:
        data = definition(
            [{"name": "A", "metadata": {"big": 1}}],
            [{"trigger": "t", "source": "A", "guards": [{"name": "g", "params": {"n": 2}}]}],
        )
        text = (
            json.dumps(data).replace('"big": 1', '"big": 1e400').replace('"n": 2', '"n": [-1e999]')
        )
        assert json_issues(text) == [
            "states[0].metadata: inf is not a JSON number",
            "transitions[0].guards[0].params: -inf is not a JSON number",
        ]

    @pytest.mark.parametrize(
        "value", [float("nan"), float("inf"), object(), {1: "x"}, ("a", "b"), b"raw"]
    )
    def test_python_values_that_json_cannot_carry(self, value: Any) -> None:
        data = definition([{"name": "A", "metadata": {"nested": [{"v": value}]}}])
        with pytest.raises(ConfigurationError) as info:
            StateMachine.from_dict(data)
        (issue,) = info.value.issues
        assert issue.path == "states[0].metadata"

    def test_json_values_are_fine(self) -> None:
        value = {"s": "x", "i": -3, "f": 1.5, "b": True, "n": None, "l": [1, {"k": []}]}
        data = definition(
            [{"name": "A", "metadata": value, "on_enter": [{"name": "a", "params": value}]}]
        )
        machine = StateMachine.from_dict(data)
        assert machine.definition.states[0].metadata == value
        assert StateMachine.from_json_string(machine.to_json()).definition == machine.definition

    def test_distinct_definitions_keep_distinct_hashes(self) -> None:
        hashes = {
            StateMachine.from_dict(
                definition([{"name": "A", "metadata": {"x": v}}])
            ).definition_hash
            for v in (None, 0, "", False, [], {})
        }
        assert len(hashes) == 6


@pytest.mark.usefixtures("yaml_parser")
class TestDictAndFiles:
    def test_from_dict_and_from_definition_agree(self) -> None:
        model = MachineDefinition.model_validate(ORDER)
        assert StateMachine.from_dict(ORDER).definition == model
        assert StateMachine.from_definition(model).definition is model

    def test_definition_from_data_passes_a_model_through(self) -> None:
        model = MachineDefinition.model_validate(ORDER)
        assert definition_from_data(model) is model

    def test_from_dict_refuses_non_mappings(self) -> None:
        with pytest.raises(ConfigurationError, match="must be a mapping"):
            StateMachine.from_dict([ORDER])  # type: ignore[arg-type]

    def test_from_definition_refuses_a_dict(self) -> None:
        with pytest.raises(TypeError, match="from_dict"):
            StateMachine.from_definition(ORDER)  # type: ignore[arg-type]

    def test_from_dict_does_not_mutate_its_input(self) -> None:
        data = json.loads(json.dumps(ORDER))
        StateMachine.from_dict(data)
        assert data == ORDER

    def test_from_yaml_and_from_json_files(self, tmp_path: Path) -> None:
        machine = StateMachine.from_dict(ORDER)
        (tmp_path / "o.yaml").write_text(machine.to_yaml(), encoding="utf-8")
        (tmp_path / "o.json").write_text(machine.to_json(), encoding="utf-8")
        assert StateMachine.from_yaml(tmp_path / "o.yaml").definition == machine.definition
        assert StateMachine.from_json(str(tmp_path / "o.json")).definition == machine.definition
        assert load_file(tmp_path / "o.json") == machine.definition
        assert load_file(tmp_path / "o.yaml") == machine.definition

    def test_load_file_picks_json_by_extension(self, tmp_path: Path) -> None:
        path = tmp_path / "m.JSON"
        path.write_text('{"meta": {"machine_name": "m"}, "states": [{"name": "A"}], "x": NaN}')
        with pytest.raises(ConfigurationError, match="NaN is not valid JSON"):
            load_file(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="file not found"):
            StateMachine.from_yaml(tmp_path / "nope.yaml")

    def test_directory(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="is a directory"):
            StateMachine.from_yaml(tmp_path)

    def test_not_utf8_file(self, tmp_path: Path) -> None:
        path = tmp_path / "m.yaml"
        path.write_bytes(b"meta: {machine_name: \xff}\n")
        with pytest.raises(ConfigurationError, match="not UTF-8"):
            StateMachine.from_yaml(path)

    def test_file_size_limit(self, tmp_path: Path) -> None:
        from pystator.loaders import load_yaml_file

        path = tmp_path / "m.yaml"
        path.write_text(BASE_YAML, encoding="utf-8")
        with pytest.raises(ConfigurationError, match="over the limit of 10 bytes"):
            load_yaml_file(path, max_bytes=10)


HIERARCHICAL = definition(
    [
        {"name": "IDLE", "type": "initial", "description": "waiting"},
        {"name": "OPEN", "on_enter": ["notify_open"], "metadata": {"color": "green"}},
        {"name": "WORKING", "parent": "OPEN", "initial_child": "PARTIAL"},
        {"name": "NEW", "parent": "WORKING"},
        {"name": "PARTIAL", "parent": "WORKING", "on_exit": [{"name": "log", "params": {"n": 1}}]},
        {"name": "DONE", "type": "terminal"},
    ],
    [
        {"trigger": "open", "source": "IDLE", "dest": "OPEN", "priority": 3},
        {
            "trigger": "fill",
            "source": ["NEW", "PARTIAL"],
            "dest": "DONE",
            "guards": ["g", {"name": "h", "params": {"limit": 2.5, "tags": ["a", None]}}],
            "actions": ["a", {"name": "b", "params": {"nested": {"k": [1, 2, {"z": True}]}}}],
            "description": "full fill",
        },
        {"trigger": "tick", "source": "OPEN", "internal": True, "actions": ["count"]},
        {"trigger": "reset", "source": "*", "dest": "IDLE", "priority": -2},
    ],
    version="2.3.1",
    strict_mode=False,
    description="round trip",
)


@pytest.mark.usefixtures("yaml_parser")
class TestRoundTrips:
    @pytest.mark.parametrize("data", [ORDER, HIERARCHICAL], ids=["order", "hierarchical"])
    def test_dict_round_trip(self, data: dict[str, Any]) -> None:
        machine = StateMachine.from_dict(data)
        again = StateMachine.from_dict(machine.to_dict())
        assert again.definition == machine.definition
        assert again.to_dict() == machine.to_dict()

    @pytest.mark.parametrize("data", [ORDER, HIERARCHICAL], ids=["order", "hierarchical"])
    def test_yaml_round_trip(self, data: dict[str, Any]) -> None:
        machine = StateMachine.from_dict(data)
        text = machine.to_yaml()
        assert StateMachine.from_yaml_string(text).definition == machine.definition

    @pytest.mark.parametrize("data", [ORDER, HIERARCHICAL], ids=["order", "hierarchical"])
    def test_json_round_trip(self, data: dict[str, Any]) -> None:
        machine = StateMachine.from_dict(data)
        text = machine.to_json()
        assert json.loads(text) == machine.to_dict()
        assert StateMachine.from_json_string(text).definition == machine.definition
        compact = definition_to_json(machine.definition, indent=None)
        assert "\n" not in compact
        assert load_json_string(compact) == machine.definition

    def test_round_trip_keeps_the_definition_hash(self) -> None:
        machine = StateMachine.from_dict(HIERARCHICAL)
        again = StateMachine.from_yaml_string(machine.to_yaml())
        assert again.definition_hash == machine.definition_hash

    def test_yaml_quotes_words_a_yaml_1_1_reader_would_misread(self) -> None:
        words = ["on", "off", "yes", "no", "y", "n", "true", "null"]
        data = definition(
            [{"name": w} for w in words if w not in {"true", "null"}],
            [{"trigger": "on", "source": "off", "dest": "yes", "description": "true"}],
        )
        data["meta"]["version"] = "null"
        definition_ = MachineDefinition.model_validate(data)
        text = definition_to_yaml(definition_)
        assert '"on"' in text
        assert '"true"' in text
        # Any YAML 1.1 reader (plain PyYAML) reads the quoted words back as strings.
        import yaml

        plain = yaml.safe_load(text)
        assert plain["transitions"][0]["trigger"] == "on"
        assert plain["meta"]["version"] == "null"
        assert load_yaml_string(text) == definition_

    def test_numeric_looking_strings_survive(self) -> None:
        data = definition([{"name": "A", "description": "1.10"}], version="1.10")
        definition_ = MachineDefinition.model_validate(data)
        again = load_yaml_string(definition_to_yaml(definition_))
        assert again.meta.version == "1.10"
        assert again.states[0].description == "1.10"

    def test_to_dict_leaves_defaults_out_but_writes_meta_in_full(self) -> None:
        d = definition_to_dict(MachineDefinition.model_validate(ORDER))
        assert d["meta"] == {
            "machine_name": "order_management",
            "version": "1.0.0",
            "strict_mode": True,
            "validate_context": False,
        } | {
            k: v
            for k, v in d["meta"].items()
            if k not in {"machine_name", "version", "strict_mode", "validate_context"}
        }
        assert d["states"][1] == {"name": "OPEN"}
        assert d["transitions"][0] == {
            "trigger": "exchange_ack",
            "source": "PENDING",
            "dest": "OPEN",
        }

    def test_to_dict_is_plain_json_data(self) -> None:
        d = StateMachine.from_dict(HIERARCHICAL).to_dict()
        assert json.loads(json.dumps(d)) == d
        assert isinstance(d["transitions"][1]["source"], list)

    def test_schema_header(self) -> None:
        text = definition_to_yaml(
            MachineDefinition.model_validate(ORDER), schema_ref="../schemas/machine.schema.json"
        )
        assert text.startswith("# yaml-language-server: $schema=../schemas/machine.schema.json\n")
        assert load_yaml_string(text) == MachineDefinition.model_validate(ORDER)

    @pytest.mark.parametrize("text", ["a\x85b", "\u2028", "line\u2029break", "\x85: x"])
    def test_unicode_line_breaks_survive_yaml(self, text: str) -> None:
        data = definition(
            [
                {
                    "name": "A",
                    "description": text,
                    "on_enter": [{"name": "a", "params": {text: text}}],
                }
            ]
        )
        machine = StateMachine.from_dict(data)
        assert StateMachine.from_yaml_string(machine.to_yaml()).definition == machine.definition

    def test_unicode_text_survives(self) -> None:
        data = definition([{"name": "A", "description": "Zürich → 東京 ✓"}])
        machine = StateMachine.from_dict(data)
        assert StateMachine.from_yaml_string(machine.to_yaml()).definition == machine.definition
        assert StateMachine.from_json_string(machine.to_json()).definition == machine.definition


TRICKY_YAML = """\
meta:
  machine_name: tricky
  version: 1.10
  description: >
    folded
    text
states:
  - name: A
    type: initial
    metadata: {n: 1, f: 2.5, t: true, z: null, s: 'on', list: [1, [2, [3]]]}
  - name: B
    description: |
      literal
      block
    on_enter:
      - name: notify
        params: {when: 2001-12-14, hex: 0x1f, big: 1e3, inf_text: ".inf", "quoted key": yes}
transitions:
  - {trigger: go, source: A, dest: B}
"""


class TestYamlParsers:
    """libyaml's C parser and PyYAML's pure-Python parser feed the same reader."""

    def test_libyaml_is_used_when_pyyaml_has_it(self) -> None:
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML was built without libyaml")
        from yaml._yaml import CParser

        assert safe_yaml.USE_LIBYAML
        assert isinstance(safe_yaml._event_source("a: 1"), CParser)

    @pytest.mark.parametrize(
        "path",
        [*sorted((ROOT / "examples").glob("*.yaml")), "tricky"],
        ids=lambda p: p if isinstance(p, str) else p.name,
    )
    def test_both_parsers_read_the_same_data_and_lines(
        self, path: Path | str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML was built without libyaml")
        text = TRICKY_YAML if path == "tricky" else Path(path).read_text(encoding="utf-8")
        read = []
        for use_c in (True, False):
            monkeypatch.setattr(safe_yaml, "USE_LIBYAML", use_c)
            document = safe_yaml.load_yaml_text(text)
            lines = {repr(path): document.line_of(path) for path in _paths(document.data)}
            read.append((document.data, lines))
        assert read[0] == read[1]
        assert read[0][1]  # the lines were recorded

    @pytest.mark.parametrize(
        "text",
        [
            "meta: {machine_name: m\nstates: [{name: A}]\n",
            "meta:\n  machine_name: m\n   states: []\n",
            "a: b: c\n",
            "- a\nb: c\n",
            "meta: {machine_name: m}\n\tstates: []\n",
        ],
    )
    def test_both_parsers_refuse_bad_syntax_at_the_same_line(
        self, text: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML was built without libyaml")
        lines = []
        for use_c in (True, False):
            monkeypatch.setattr(safe_yaml, "USE_LIBYAML", use_c)
            (issue,) = yaml_issues(text)
            assert "invalid YAML" in issue
            lines.append(issue.split(",")[0])
        assert lines[0] == lines[1]


def _paths(data: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path into ``data`` (a small test document: recursion is fine here)."""
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out
