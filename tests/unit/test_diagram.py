"""Mermaid and DOT diagrams: nested boxes for compound and parallel states, safe labels."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pystator.diagram import FORMATS, render, to_dot, to_mermaid
from pystator.loaders import definition_from_data

NESTED: dict[str, Any] = {
    "meta": {"machine_name": "orders", "version": "2.0"},
    "states": [
        {"name": "PENDING", "type": "initial"},
        {"name": "OPEN"},
        {"name": "WORKING", "parent": "OPEN", "initial_child": "PARTIAL"},
        {"name": "PARTIAL", "parent": "WORKING"},
        {"name": "HALTED", "parent": "WORKING"},
        {"name": "FILLED", "type": "terminal"},
        {"name": "EXPIRED", "type": "terminal", "timeout": None},
        {
            "name": "MONITORING",
            "type": "parallel",
            "regions": [
                {"name": "feed", "initial": "CONNECTING", "states": ["CONNECTING", "STREAMING"]},
                {"name": "risk", "initial": "CALM", "states": ["CALM", "ALARM"]},
            ],
        },
        {"name": "SLOW", "timeout": {"seconds": 90, "destination": "EXPIRED"}},
    ],
    "transitions": [
        {"trigger": "exchange_ack", "source": "PENDING", "dest": "OPEN"},
        {
            "trigger": "fill",
            "source": "OPEN",
            "dest": "FILLED",
            "guards": [{"expr": 'side == "buy;#" and qty >= 10'}, "is_ok"],
            "actions": [{"name": "book", "params": {"k": 1}}],
        },
        {"trigger": "cancel", "source": "*", "dest": "EXPIRED"},
        {"after": "30s", "source": "PENDING", "dest": "EXPIRED"},
        {"trigger": "watch", "source": "OPEN", "dest": "MONITORING"},
        {"trigger": "up", "source": "CONNECTING", "dest": "STREAMING"},
        {"trigger": "note", "source": "OPEN", "internal": True, "actions": ["log"]},
        {"auto": True, "source": "SLOW", "dest": "OPEN", "guards": [{"expr": "ready"}]},
    ],
}
NESTED["states"][6].pop("timeout")


@pytest.fixture
def nested() -> Any:
    return definition_from_data(NESTED)


def block_of(text: str, name: str) -> str:
    """The body of Mermaid composite state ``name`` (up to its matching brace)."""
    start = text.index(f"state {name} {{")
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    raise AssertionError("unbalanced")


class TestMermaid:
    def test_header_and_start(self, nested: Any) -> None:
        text = to_mermaid(nested)
        assert text.startswith("stateDiagram-v2\n")
        assert "    [*] --> PENDING" in text
        assert "FILLED --> [*]" in text

    def test_compound_states_are_nested_boxes(self, nested: Any) -> None:
        text = to_mermaid(nested)
        open_box = block_of(text, "OPEN")
        assert "[*] --> WORKING" in open_box
        working = block_of(open_box, "WORKING")
        assert "[*] --> PARTIAL" in working
        assert "HALTED" in working
        assert "PENDING" not in open_box

    def test_parallel_regions_are_separated_boxes(self, nested: Any) -> None:
        box = block_of(to_mermaid(nested), "MONITORING")
        feed, risk = box.index("state feed {"), box.index("state risk {")
        assert feed < box.index("--", feed) < risk
        assert "[*] --> CALM" in block_of(box, "risk")

    def test_labels(self, nested: Any) -> None:
        text = to_mermaid(nested)
        assert "PENDING --> OPEN : exchange_ack" in text
        assert "PENDING --> EXPIRED : after 30s" in text
        assert "SLOW --> EXPIRED : timeout 90s" in text
        assert "SLOW --> OPEN : auto [ready]" in text
        assert "OPEN --> OPEN : note / log (internal)" in text
        fill = next(line for line in text.splitlines() if "OPEN --> FILLED" in line)
        # Quotes, ';' and '#' would end or break a Mermaid label: they are entity codes.
        bare = re.sub(r"#\d+;", "", fill.split(" : ", 1)[1])
        assert not set(bare) & set('"#;<>{}')
        assert "#34;buy#59;#35;#34;" in fill
        assert fill.endswith("/ book")

    def test_a_wildcard_is_drawn_from_every_top_level_open_state(self, nested: Any) -> None:
        sources = {
            line.split(" --> ")[0].strip()
            for line in to_mermaid(nested).splitlines()
            if line.endswith(": cancel")
        }
        assert sources == {"PENDING", "OPEN", "MONITORING", "SLOW"}

    def test_braces_balance(self, nested: Any) -> None:
        text = to_mermaid(nested)
        assert text.count("{") == text.count("}")


class TestDot:
    def test_is_a_digraph_with_clusters(self, nested: Any) -> None:
        text = to_dot(nested)
        assert text.startswith('digraph "orders" {')
        assert "compound=true;" in text
        for name in ("OPEN", "WORKING", "MONITORING", "feed", "risk"):
            assert f'subgraph "cluster_{name}" {{' in text
        assert text.count("{") == text.count("}")

    def test_clusters_nest(self, nested: Any) -> None:
        text = to_dot(nested)
        assert text.index('"cluster_OPEN"') < text.index('"cluster_WORKING"')
        assert text.index('"cluster_MONITORING"') < text.index('"cluster_feed"')
        assert 'label="MONITORING (parallel)"' in text
        assert '"FILLED" [label="FILLED", peripheries=2];' in text

    def test_edges_to_boxes_attach_to_the_cluster(self, nested: Any) -> None:
        text = to_dot(nested)
        assert re.search(
            r'"PENDING" -> "OPEN" \[label="exchange_ack", lhead="cluster_OPEN"\]', text
        )
        assert 'ltail="cluster_OPEN"' in text

    def test_labels_are_escaped(self, nested: Any) -> None:
        line = next(x for x in to_dot(nested).splitlines() if '"OPEN" -> "FILLED"' in x)
        assert r"\"buy;#\"" in line


def test_render_dispatches_and_refuses_unknown_formats(nested: Any) -> None:
    assert FORMATS == ("mermaid", "dot")
    assert render(nested, "mermaid") == to_mermaid(nested)
    assert render(nested, "dot") == to_dot(nested)
    with pytest.raises(ValueError, match="unknown diagram format"):
        render(nested, "svg")  # type: ignore[arg-type]


def test_history_states_are_marked() -> None:
    definition = definition_from_data(
        {
            "meta": {"machine_name": "h"},
            "states": [
                {"name": "A", "type": "initial"},
                {"name": "B"},
                {"name": "B1", "parent": "B"},
                {"name": "B2", "parent": "B"},
                {"name": "BH", "parent": "B", "type": "history", "history": "deep"},
            ],
            "transitions": [{"trigger": "back", "source": "A", "dest": "BH"}],
        }
    )
    assert 'state "H*" as BH' in to_mermaid(definition)
    assert '"BH" [shape=circle, label="H*"' in to_dot(definition)
