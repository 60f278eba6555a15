"""Hostile YAML: each input is refused quickly with ``ConfigurationError`` and nothing else.

"Quickly" is checked loosely (a few seconds, not a benchmark): the point is that nothing
expands, recurses or parses its way into a hang. The time counted is this process's CPU time,
so other work on a busy machine does not count.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pystator import ConfigurationError, StateMachine
from pystator.loaders import DEFAULT_MAX_BYTES, load_yaml_file, load_yaml_string, safe_yaml

LIMIT_SECONDS = 5.0

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
meta: {machine_name: m}
states: *i
"""

# The same bomb hidden where a definition legitimately holds free-form data.
BOMB_IN_PARAMS = """\
meta: {machine_name: m}
states:
  - name: A
    metadata: {x: &x [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    on_enter: [{name: a, params: {y: [*x, *x, *x, *x, *x, *x, *x, *x, *x]}}]
"""

MERGE_BOMB = """\
base: &base {machine_name: m}
meta:
  <<: *base
states: [{name: A}]
"""


@pytest.fixture(autouse=True, params=["libyaml", "pure"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on libyaml's C parser and on PyYAML's pure-Python one."""
    if request.param == "libyaml" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    monkeypatch.setattr(safe_yaml, "USE_LIBYAML", request.param == "libyaml")
    return str(request.param)


@pytest.fixture
def deadline() -> Iterator[None]:
    started = time.process_time()
    yield
    assert time.process_time() - started < LIMIT_SECONDS


def refused(text: str, **kwargs: object) -> ConfigurationError:
    """Load ``text``; it must raise ``ConfigurationError`` (any other exception fails)."""
    with pytest.raises(ConfigurationError) as info:
        load_yaml_string(text, **kwargs)  # type: ignore[arg-type]
    assert info.value.issues
    return info.value


@pytest.mark.usefixtures("deadline")
class TestExpansion:
    def test_billion_laughs(self) -> None:
        error = refused(BILLION_LAUGHS)
        assert "anchors (&a) are not allowed" in str(error)

    def test_bomb_inside_params(self) -> None:
        error = refused(BOMB_IN_PARAMS)
        assert "anchors (&x) are not allowed" in str(error)

    def test_merge_keys(self) -> None:
        assert "not allowed" in str(refused(MERGE_BOMB))

    def test_alias_alone(self) -> None:
        assert "aliases" in str(refused("meta: {machine_name: m}\nstates: [*a]\n"))


@pytest.mark.usefixtures("deadline")
class TestCodeExecution:
    @pytest.mark.parametrize(
        "text",
        [
            "!!python/object/apply:os.system ['touch {marker}']\n",
            "!!python/object/new:os.system ['touch {marker}']\n",
            "meta: !!python/object/apply:subprocess.call [['touch', '{marker}']]\nstates: []\n",
            "meta: {machine_name: !!python/name:os.system }\nstates: [{name: A}]\n",
            "!!python/module:os\n",
            "meta: !!python/object:collections.OrderedDict {}\n",
        ],
    )
    def test_python_tags(self, text: str, tmp_path: Path) -> None:
        marker = tmp_path / "pwned"
        error = refused(text.replace("{marker}", str(marker)))
        assert "could not determine a constructor" in str(error)
        assert not marker.exists()

    def test_python_tag_from_a_file(self, tmp_path: Path) -> None:
        marker = tmp_path / "pwned"
        path = tmp_path / "evil.yaml"
        path.write_text(f"!!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
        with pytest.raises(ConfigurationError):
            StateMachine.from_yaml(path)
        assert not marker.exists()


@pytest.mark.usefixtures("deadline")
class TestSize:
    def test_huge_string_is_refused_before_parsing(self) -> None:
        text = "meta: {machine_name: m}\nstates: [{name: A}]\n# " + "x" * (DEFAULT_MAX_BYTES + 1)
        assert "larger than the limit" in str(refused(text))

    def test_huge_file_is_refused_before_reading(self, tmp_path: Path) -> None:
        path = tmp_path / "big.yaml"
        with path.open("w", encoding="utf-8") as f:
            f.write("meta: {machine_name: m}\nstates: [{name: A}]\n")
            f.write("# " + "x" * (DEFAULT_MAX_BYTES + 10) + "\n")
        with pytest.raises(ConfigurationError, match="over the limit"):
            load_yaml_file(path)

    def test_many_states_under_the_limit_still_load(self) -> None:
        states = "".join(f"  - {{name: S{i}}}\n" for i in range(2000))
        definition = load_yaml_string(f"meta: {{machine_name: m}}\nstates:\n{states}")
        assert len(definition.states) == 2000

    def test_long_line(self) -> None:
        text = (
            "meta: {machine_name: m}\nstates: [{name: A, description: " + "y" * 1_000_000 + "}]\n"
        )
        assert len(load_yaml_string(text).states[0].description or "") == 1_000_000


@pytest.mark.usefixtures("deadline")
class TestNesting:
    @pytest.mark.parametrize(
        "text",
        [
            "[" * 50_000 + "]" * 50_000,
            "{a: " * 20_000 + "1" + "}" * 20_000,
            "- " * 5_000 + "x\n",
            "meta: {machine_name: m}\nstates:\n  - name: A\n    metadata: "
            + "[" * 30_000
            + "]" * 30_000
            + "\n",
        ],
        ids=["flow-lists", "flow-maps", "block-lists", "inside-metadata"],
    )
    def test_deep_nesting(self, text: str) -> None:
        assert "nested too deeply" in str(refused(text))

    def test_unclosed_deep_nesting(self) -> None:
        refused("[" * 50_000)


@pytest.mark.usefixtures("deadline")
class TestBytes:
    @pytest.mark.parametrize(
        "text",
        [
            "\x00",
            "meta: {machine_name: m}\x00\nstates: [{name: A}]\n",
            "meta: {machine_name: m}\nstates: [{name: A}]\n# \x00 trailing\n",
        ],
        ids=["only", "in-mapping", "in-comment"],
    )
    def test_nul_bytes(self, text: str) -> None:
        assert str(refused(text)).endswith("YAML input contains a NUL byte")

    @pytest.mark.parametrize("char", ["\x01", "\x07", "\x1b", "\ufffe", "\ud800"])
    def test_control_characters_and_lone_surrogates(self, char: str) -> None:
        error = refused(f"meta: {{machine_name: m}}\nstates: [{{name: A{char}}}]\n")
        assert [str(i) for i in error.issues] == [
            f"line 2: invalid YAML: special characters are not allowed (#x{ord(char):04x})"
        ]

    def test_nul_bytes_in_a_file(self, tmp_path: Path) -> None:
        path = tmp_path / "nul.yaml"
        path.write_bytes(b"meta: {machine_name: m}\x00\nstates: [{name: A}]\n")
        with pytest.raises(ConfigurationError, match="NUL byte"):
            StateMachine.from_yaml(path)

    def test_binary_garbage_file(self, tmp_path: Path) -> None:
        path = tmp_path / "garbage.yaml"
        path.write_bytes(bytes(range(256)) * 10)
        with pytest.raises(ConfigurationError):
            StateMachine.from_yaml(path)


@pytest.mark.usefixtures("deadline")
class TestKeys:
    def test_duplicate_keys_cannot_hide_a_transition(self) -> None:
        text = (
            "meta: {machine_name: m}\n"
            "states: [{name: A}, {name: B}]\n"
            "transitions:\n"
            "  - {trigger: go, source: A, dest: B, dest: A}\n"
        )
        assert "duplicate key 'dest'" in str(refused(text))

    def test_many_duplicate_keys(self) -> None:
        text = "meta: {machine_name: m}\n" + "x: 1\n" * 10_000
        assert "duplicate key 'x'" in str(refused(text))

    def test_non_scalar_key(self) -> None:
        refused("{[a]: 1}\n")
