"""Diagrams with the active configuration highlighted (issue 16, item 3, the Python part):
``render(definition, fmt, state=...)``, ``to_mermaid``, ``to_dot`` and ``pystator diagram
--state``. Every test reads back which states the text marks and compares the exact set."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pystator import MachineDefinition
from pystator.diagram import FORMATS, render, to_dot, to_mermaid
from pystator.loaders import load_file, load_yaml_string
from tests.conftest import ROOT

DAY_TRADING = ROOT / "examples" / "day_trading_fsm.yaml"

NESTED = """
meta: {machine_name: nested}
states:
  - {name: IDLE, type: initial}
  - {name: WORK, initial_child: PREP}
  - {name: PREP, parent: WORK}
  - {name: SUB, parent: WORK, initial_child: S1}
  - {name: S1, parent: SUB}
  - {name: S2, parent: SUB}
  - {name: WH, type: history, parent: WORK}
  - name: P
    type: parallel
    regions:
      - name: left
        initial: Q
        states:
          - name: Q
            type: parallel
            regions:
              - {name: x, initial: X1, states: [X1, X2]}
              - {name: y, initial: Y1, states: [Y1, Y2]}
          - L2
      - {name: right, initial: R1, states: [R1, R2]}
  - {name: END, type: terminal}
transitions:
  - {trigger: go, source: IDLE, dest: WORK}
  - {trigger: deeper, source: PREP, dest: SUB}
  - {trigger: split, source: WORK, dest: P}
  - {trigger: end, source: P, dest: END}
"""


def nested() -> MachineDefinition:
    return load_yaml_string(NESTED)


# --------------------------------------------------------------------------- reading back


def mermaid_marked(text: str) -> set[str]:
    """The states named by the ``class ... current`` (active leaves) and ``class ... active``
    (the states around them) lines, with both classDefs present."""
    marked: set[str] = set()
    lines = text.splitlines()
    for line in lines:
        match = re.fullmatch(r"\s*class (\S+) (?:active|current)", line)
        if match:
            marked.update(match.group(1).split(","))
    if marked:
        assert any(line.strip().startswith("classDef active ") for line in lines)
        assert any(line.strip().startswith("classDef current ") for line in lines)
    return marked


def mermaid_leaves(text: str) -> set[str]:
    """The states of the ``class ... current`` line: the active leaves."""
    found = re.search(r"^\s*class (\S+) current$", text, flags=re.MULTILINE)
    return set(found.group(1).split(",")) if found else set()


def dot_marked(text: str) -> set[str]:
    """The nodes filled as active, and the clusters whose style says ``filled``."""
    marked: set[str] = set()
    cluster: str | None = None
    for line in text.splitlines():
        opened = re.fullmatch(r'\s*subgraph "cluster_(.+)" \{', line)
        if opened:
            cluster = opened.group(1)
            continue
        if cluster is not None and re.fullmatch(r"\s*style=.*;", line):
            if "filled" in line:
                marked.add(cluster)
            cluster = None
            continue
        node = re.fullmatch(r'\s*"([^"]+)" \[(.*)\];', line)
        if node and "fillcolor" in node.group(2):
            marked.add(node.group(1))
    return marked


REGIONS = frozenset({"left", "right", "x", "y", "trading", "risk", "feed"})
"""The regions of the machines here: DOT draws (and marks) them as clusters; Mermaid leaves
them out of its class lines, as the web UI does (they are not states)."""


def marked(fmt: str, text: str) -> set[str]:
    """The marked states; for Mermaid with the active regions added back (every region of an
    active parallel state is active), so both formats answer alike."""
    if fmt == "dot":
        return dot_marked(text)
    found = mermaid_marked(text)
    regions = {r for r in REGIONS if f"state {r} {{" in text and _region_is_active(text, r)}
    return found | regions


def _region_is_active(text: str, region: str) -> bool:
    """A region is active when its parallel state is marked: read the configuration comment."""
    comment = re.search(r"%% active configuration: (.*)$", text, flags=re.MULTILINE)
    return comment is not None and re.search(rf"\b{region}=", comment.group(1)) is not None


# --------------------------------------------------------------------------- the renderers


@pytest.mark.parametrize("fmt", FORMATS)
class TestHighlight:
    def test_a_plain_state(self, fmt: str) -> None:
        text = render(nested(), fmt, state="IDLE")  # type: ignore[arg-type]
        assert marked(fmt, text) == {"IDLE"}

    def test_a_leaf_and_its_ancestors(self, fmt: str) -> None:
        text = render(nested(), fmt, state="S2")  # type: ignore[arg-type]
        assert marked(fmt, text) == {"S2", "SUB", "WORK"}

    def test_every_region_of_a_parallel_state(self, fmt: str) -> None:
        state = "TRADING_DAY(trading=LONG, risk=ELEVATED, feed=STREAMING)"
        text = render(load_file(DAY_TRADING), fmt, state=state)  # type: ignore[arg-type]
        assert marked(fmt, text) == {
            "TRADING_DAY",
            "trading",
            "LONG",
            "risk",
            "ELEVATED",
            "feed",
            "STREAMING",
        }

    def test_a_parallel_state_inside_a_region(self, fmt: str) -> None:
        state = "P(left=Q(x=X2, y=Y1), right=R2)"
        text = render(nested(), fmt, state=state)  # type: ignore[arg-type]
        expected = {"P", "left", "Q", "x", "X2", "y", "Y1", "right", "R2"}
        assert marked(fmt, text) == expected
        other = render(nested(), fmt, state="P(left=L2, right=R1)")  # type: ignore[arg-type]
        assert marked(fmt, other) == {"P", "left", "L2", "right", "R1"}

    def test_the_configuration_is_written_in_its_canonical_form(self, fmt: str) -> None:
        text = render(nested(), fmt, state="P( right=R2 , left=L2 )")  # type: ignore[arg-type]
        assert "active configuration: P(left=L2, right=R2)" in text
        assert marked(fmt, text) == {"P", "left", "L2", "right", "R2"}

    def test_without_a_state_nothing_is_marked_and_the_text_is_unchanged(self, fmt: str) -> None:
        definition = load_file(DAY_TRADING)
        plain = render(definition, fmt)  # type: ignore[arg-type]
        assert plain == render(definition, fmt, state=None)  # type: ignore[arg-type]
        assert marked(fmt, plain) == set()
        assert "active" not in plain
        assert "fillcolor" not in plain

    def test_highlighting_adds_marks_only(self, fmt: str) -> None:
        """The highlighted text is the plain one plus highlight lines and attributes."""
        definition = nested()
        plain = render(definition, fmt).splitlines()  # type: ignore[arg-type]
        lit = render(definition, fmt, state="PREP").splitlines()  # type: ignore[arg-type]
        node_marks = re.compile(
            r', style="rounded,filled", fillcolor="[^"]+", fontcolor="[^"]+", color="[^"]+", '
            r"penwidth=3"
        )

        def unmarked(line: str) -> str:
            line = node_marks.sub("", line).replace(",filled", "")
            return re.sub(r'style="(\w+)";', r"style=\1;", line)  # a cluster's style

        kept = [unmarked(line) for line in lit]
        extra = [line for line in kept if line not in plain]
        assert extra  # the marks
        for line in extra:
            assert re.search(r"active|current|fillcolor=|color=|penwidth=", line), line
        assert [line for line in kept if line in plain] == plain

    @pytest.mark.parametrize(
        ("state", "problem"),
        [
            ("NOPE", "state 'NOPE' is not defined in machine 'nested'"),
            ("P(left=L2)", "region(s) right of 'P' missing"),
            ("P(left=L2, right=R9)", "state 'R9' is not defined"),
            ("P(left=L2, right=R1", "expected ')'"),
            ("X1", "pass the whole configuration"),
            ("P(left=L2, middle=R1)", "'middle' is not a region of 'P'"),
            ("WH", "history pseudo-state"),
            ("", "expected a state name"),
        ],
    )
    def test_a_bad_configuration_is_a_value_error_naming_the_problem(
        self, fmt: str, state: str, problem: str
    ) -> None:
        with pytest.raises(ValueError, match=re.escape(problem)):
            render(nested(), fmt, state=state)  # type: ignore[arg-type]


def test_mermaid_marks_the_leaves_current_and_the_states_around_them_active() -> None:
    """The web UI's classes: ``current`` for the active leaves, ``active`` for the rest."""
    state = "TRADING_DAY(trading=LONG, risk=ELEVATED, feed=STREAMING)"
    text = to_mermaid(load_file(DAY_TRADING), state=state)
    assert mermaid_leaves(text) == {"LONG", "ELEVATED", "STREAMING"}
    assert "    class TRADING_DAY active" in text.splitlines()  # regions are not states
    assert mermaid_leaves(to_mermaid(nested(), state="IDLE")) == {"IDLE"}
    assert " active\n" not in to_mermaid(nested(), state="IDLE")  # no ancestor to mark


def test_dot_fills_the_leaves_and_tints_the_boxes_around_them() -> None:
    text = to_dot(nested(), state="S2")
    leaf = next(line for line in text.splitlines() if line.strip().startswith('"S2" ['))
    assert 'fillcolor="#2563eb"' in leaf
    assert 'fontcolor="#ffffff"' in leaf
    work = text[text.index('subgraph "cluster_WORK"') :].splitlines()[:6]
    assert any('fillcolor="#eff6ff";' in line for line in work)


def test_dot_resets_an_inactive_cluster_inside_an_active_one() -> None:
    """Graphviz clusters inherit their parent's attributes: SUB (inactive, inside the active
    WORK) gets its border back, and is not filled."""
    text = to_dot(nested(), state="PREP")
    assert dot_marked(text) == {"WORK", "PREP"}
    sub = text[text.index('subgraph "cluster_SUB"') :].splitlines()[:6]
    assert any("color=black;" in line for line in sub)
    assert any("penwidth=1;" in line for line in sub)
    assert not any("filled" in line for line in sub)


def test_mermaid_and_dot_mark_the_same_states() -> None:
    definition = nested()
    for state in ("IDLE", "PREP", "S1", "P(left=Q(x=X1, y=Y2), right=R1)", "END"):
        assert marked("mermaid", to_mermaid(definition, state=state)) == dot_marked(
            to_dot(definition, state=state)
        )
        assert not mermaid_marked(to_mermaid(definition, state=state)) & REGIONS


# --------------------------------------------------------------------------- the command line


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pystator", "diagram", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_highlights_the_configuration(fmt: str, tmp_path: Path) -> None:
    state = "TRADING_DAY(trading=SHORT, risk=CALM, feed=STALE)"
    proc = cli(DAY_TRADING, "--format", fmt, "--state", state)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == render(load_file(DAY_TRADING), fmt, state=state)  # type: ignore[arg-type]
    assert marked(fmt, proc.stdout) == {
        "TRADING_DAY",
        "trading",
        "SHORT",
        "risk",
        "CALM",
        "feed",
        "STALE",
    }
    out = tmp_path / f"diagram.{fmt}"
    assert cli(DAY_TRADING, "--format", fmt, "--state", "CLOSED", "-o", out).returncode == 0
    assert marked(fmt, out.read_text(encoding="utf-8")) == {"CLOSED"}


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        (
            "TRADING_DAY(trading=LONG)",
            "error: --state: 'TRADING_DAY(trading=LONG)' is not a valid configuration of "
            "'day_trading': region(s) risk, feed of 'TRADING_DAY' missing",
        ),
        ("LONGG", "error: --state: state 'LONGG' is not defined in machine 'day_trading'"),
        ("LONG", "error: --state: state 'LONG' is inside a parallel state"),
    ],
)
def test_cli_bad_configuration_is_one_line_and_exit_2(state: str, problem: str) -> None:
    proc = cli(DAY_TRADING, "--state", state)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(problem)
