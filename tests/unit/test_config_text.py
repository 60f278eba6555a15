# ruff: noqa: E501 (the table keeps each message on one line, as it is raised)
"""The configuration string ("P(r1=A, r2=B)"), read by its two entry points: a fixed table.

``ParallelStateConfig.from_string`` reads the syntax only (a model, no machine) and raises
``ValueError``; the engine (``pystator.engine.config.parse``, behind ``process`` and
``configuration_leaves``) also checks the string against the machine and raises
``UndefinedStateError``. The table was captured from the tree before the two parsers were made
one (issue 15, P22) and must hold before and after, messages word for word. Where
``from_string`` accepts a string the engine refuses, it keeps that leniency (decision D7): the
engine is the judge of legality.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from pystator import ParallelStateConfig, StateMachine
from pystator.engine.config import parse
from pystator.errors import UndefinedStateError
from pystator.runtime.configurations import SHARED_CONFIGS

# P: r1 holds leaves, r2 holds a leaf and a nested parallel Q; H is a history pseudo-state.
DEFINITION: dict[str, Any] = {
    "meta": {"machine_name": "cfg", "strict_mode": True},
    "states": [
        {"name": "IDLE", "type": "initial"},
        {
            "name": "P",
            "type": "parallel",
            "regions": [
                {"name": "r1", "states": ["A1", "B1"]},
                {
                    "name": "r2",
                    "states": [
                        "C1",
                        {
                            "name": "Q",
                            "type": "parallel",
                            "regions": [
                                {"name": "x", "states": ["X1", "X2"]},
                                {"name": "y", "states": ["Y1", "Y2"]},
                            ],
                        },
                    ],
                },
            ],
        },
        {"name": "H", "parent": "P", "type": "history", "history": "deep"},
        {"name": "OUTER", "initial_child": "IN1"},
        {"name": "IN1", "parent": "OUTER"},
        {"name": "IN2", "parent": "OUTER"},
    ],
    "transitions": [{"trigger": "enter", "source": "IDLE", "dest": "P"}],
}

LONG = "x" * 20_001
LONG_MODEL_ERROR = f"{LONG!r} is not a parallel configuration like 'P(r1=A, r2=B)'"

# (text, from_string: (state, regions) or the ValueError message,
#  engine: (canonical text, leaves) or the UndefinedStateError message)
TABLE: list[tuple[str, Any, Any]] = [
    ("IDLE", "'IDLE' is not a parallel configuration like 'P(r1=A, r2=B)'", ("IDLE", ("IDLE",))),
    (" IDLE ", "'IDLE' is not a parallel configuration like 'P(r1=A, r2=B)'", ("IDLE", ("IDLE",))),
    ("IN1", "'IN1' is not a parallel configuration like 'P(r1=A, r2=B)'", ("IN1", ("IN1",))),
    (
        "OUTER",
        "'OUTER' is not a parallel configuration like 'P(r1=A, r2=B)'",
        ("OUTER", ("OUTER",)),
    ),
    ("P(r1=A1, r2=C1)", ("P", {"r1": "A1", "r2": "C1"}), ("P(r1=A1, r2=C1)", ("A1", "C1"))),
    ("P(r1=A1,r2=C1)", ("P", {"r1": "A1", "r2": "C1"}), ("P(r1=A1, r2=C1)", ("A1", "C1"))),
    (
        "  P ( r1 = A1 , r2 = C1 )  ",
        ("P", {"r1": "A1", "r2": "C1"}),
        ("P(r1=A1, r2=C1)", ("A1", "C1")),
    ),
    ("P(r2=C1, r1=A1)", ("P", {"r2": "C1", "r1": "A1"}), ("P(r1=A1, r2=C1)", ("A1", "C1"))),
    (
        "P(r1=A1, r2=Q(x=X1, y=Y2))",
        ("P", {"r1": "A1", "r2": "Q(x=X1, y=Y2)"}),
        ("P(r1=A1, r2=Q(x=X1, y=Y2))", ("A1", "X1", "Y2")),
    ),
    (
        "P(r1=B1,r2=Q(y=Y1,x=X2))",
        ("P", {"r1": "B1", "r2": "Q(y=Y1,x=X2)"}),
        ("P(r1=B1, r2=Q(x=X2, y=Y1))", ("B1", "X2", "Y1")),
    ),
    (
        "P(r1=A1, r2=Q(x=X1, y=Y2), )",
        "'' in 'P(r1=A1, r2=Q(x=X1, y=Y2), )' is not 'region=state'",
        "'P(r1=A1, r2=Q(x=X1, y=Y2), )' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "P(r1=A1, r2=C1))",
        "unbalanced ')'",
        "'P(r1=A1, r2=C1))' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "P(r1=A1, r2=C1",
        "'P(r1=A1, r2=C1' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'P(r1=A1, r2=C1' is not a valid configuration of 'cfg': expected ')'",
    ),
    (
        "P(r1=A1, r2=Q(x=X1, y=Y2)",
        "unbalanced '('",
        "'P(r1=A1, r2=Q(x=X1, y=Y2)' is not a valid configuration of 'cfg': expected ')'",
    ),
    (
        "P()",
        "'' in 'P()' is not 'region=state'",
        "'P()' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "P",
        "'P' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'P' is not a valid configuration of 'cfg': expected '('",
    ),
    (
        "P(r1=A1)",
        ("P", {"r1": "A1"}),
        "'P(r1=A1)' is not a valid configuration of 'cfg': region(s) r2 of 'P' missing",
    ),
    (
        "P(r1=A1, r1=B1)",
        ("P", {"r1": "B1"}),
        "'P(r1=A1, r1=B1)' is not a valid configuration of 'cfg': region 'r1' is given twice",
    ),
    (
        "P(r1=A1, r1=B1, r2=C1)",
        ("P", {"r1": "B1", "r2": "C1"}),
        "'P(r1=A1, r1=B1, r2=C1)' is not a valid configuration of 'cfg': region 'r1' is given twice",
    ),
    (
        "P(r1=A1, r3=C1)",
        ("P", {"r1": "A1", "r3": "C1"}),
        "'P(r1=A1, r3=C1)' is not a valid configuration of 'cfg': 'r3' is not a region of 'P'",
    ),
    (
        "P(r1=ZZ, r2=C1)",
        ("P", {"r1": "ZZ", "r2": "C1"}),
        "state 'ZZ' is not defined in machine 'cfg'",
    ),
    (
        "P(r1=C1, r2=C1)",
        ("P", {"r1": "C1", "r2": "C1"}),
        "'P(r1=C1, r2=C1)' is not a valid configuration of 'cfg': 'C1' is not inside 'r1'",
    ),
    (
        "P(r1=A1, r2=X1)",
        ("P", {"r1": "A1", "r2": "X1"}),
        "'P(r1=A1, r2=X1)' is not a valid configuration of 'cfg': 'X1' is inside parallel state 'Q': write Q(...)",
    ),
    (
        "P(r1=A1, r2=Q)",
        ("P", {"r1": "A1", "r2": "Q"}),
        "'P(r1=A1, r2=Q)' is not a valid configuration of 'cfg': expected '('",
    ),
    (
        "P(r1=H, r2=C1)",
        ("P", {"r1": "H", "r2": "C1"}),
        "'P(r1=H, r2=C1)' is not a valid configuration of 'cfg': 'H' is not inside 'r1'",
    ),
    (
        "H",
        "'H' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'H' is not a valid configuration of 'cfg': 'H' is inside parallel state 'P': write P(...)",
    ),
    (
        "X1",
        "'X1' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'X1' is not a valid configuration of 'cfg': 'X1' is inside parallel state 'Q': write Q(...)",
    ),
    (
        "Q(x=X1, y=Y1)",
        ("Q", {"x": "X1", "y": "Y1"}),
        "'Q(x=X1, y=Y1)' is not a valid configuration of 'cfg': 'Q' is inside parallel state 'P': write P(...)",
    ),
    (
        "NOPE",
        "'NOPE' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "state 'NOPE' is not defined in machine 'cfg'",
    ),
    (
        "IDL",
        "'IDL' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "state 'IDL' is not defined in machine 'cfg'; did you mean 'IDLE'?",
    ),
    (
        "P(r1=A1 B1, r2=C1)",
        ("P", {"r1": "A1 B1", "r2": "C1"}),
        "'P(r1=A1 B1, r2=C1)' is not a valid configuration of 'cfg': expected ')'",
    ),
    (
        "P(r1=, r2=C1)",
        "'r1=' in 'P(r1=, r2=C1)' is not 'region=state'",
        "'P(r1=, r2=C1)' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "P(=A1, r2=C1)",
        "'=A1' in 'P(=A1, r2=C1)' is not 'region=state'",
        "'P(=A1, r2=C1)' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "P(r1 A1, r2=C1)",
        "'r1 A1' in 'P(r1 A1, r2=C1)' is not 'region=state'",
        "'P(r1 A1, r2=C1)' is not a valid configuration of 'cfg': expected '='",
    ),
    (
        "P(r1=A1, r2=C1) tail",
        "'P(r1=A1, r2=C1) tail' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'P(r1=A1, r2=C1) tail' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "P(r1=A1, r2=C1)x",
        "'P(r1=A1, r2=C1)x' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'P(r1=A1, r2=C1)x' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "(r1=A1)",
        "'(r1=A1)' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'(r1=A1)' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "",
        "'' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "   ",
        "'' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'   ' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "P(r1=A1;r2=C1)",
        ("P", {"r1": "A1;r2=C1"}),
        "'P(r1=A1;r2=C1)' is not a state or configuration of machine 'cfg': unexpected ';r2=C1)' at position 7",
    ),
    (
        "P(r1=A1, , r2=C1)",
        "'' in 'P(r1=A1, , r2=C1)' is not 'region=state'",
        "'P(r1=A1, , r2=C1)' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "P(r1=A1,r2=C1)(r1=A1)",
        "unbalanced ')'",
        "'P(r1=A1,r2=C1)(r1=A1)' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "IDLE IDLE",
        "'IDLE IDLE' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'IDLE IDLE' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "IDLE(",
        "'IDLE(' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'IDLE(' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "IDLE()",
        "'' in 'IDLE()' is not 'region=state'",
        "'IDLE()' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "IDLE(r1=A1)",
        ("IDLE", {"r1": "A1"}),
        "'IDLE(r1=A1)' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "1P(r1=A1)",
        ("1P", {"r1": "A1"}),
        "'1P(r1=A1)' is not a state or configuration of machine 'cfg': unexpected '1P(r1=A1)' at position 0",
    ),
    ("P(r1=A1, r2=C1\n)", ("P", {"r1": "A1", "r2": "C1"}), ("P(r1=A1, r2=C1)", ("A1", "C1"))),
    (
        "P(r1=a-b, r2=C1)",
        ("P", {"r1": "a-b", "r2": "C1"}),
        "'P(r1=a-b, r2=C1)' is not a state or configuration of machine 'cfg': unexpected '-b, r2=C1)' at position 6",
    ),
    (
        "P(r1=A1, r2=(C1))",
        ("P", {"r1": "A1", "r2": "(C1)"}),
        "'P(r1=A1, r2=(C1))' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "P(r1==A1, r2=C1)",
        ("P", {"r1": "=A1", "r2": "C1"}),
        "'P(r1==A1, r2=C1)' is not a valid configuration of 'cfg': expected a state name",
    ),
    (
        "OUTER(r1=IN1)",
        ("OUTER", {"r1": "IN1"}),
        "'OUTER(r1=IN1)' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "P(r1=A1, r2=C1=D)",
        ("P", {"r1": "A1", "r2": "C1=D"}),
        "'P(r1=A1, r2=C1=D)' is not a valid configuration of 'cfg': expected ')'",
    ),
    (
        "é",
        "'é' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'é' is not a state or configuration of machine 'cfg': unexpected 'é' at position 0",
    ),
    ("P(r1=A1, r2=C1)\t", ("P", {"r1": "A1", "r2": "C1"}), ("P(r1=A1, r2=C1)", ("A1", "C1"))),
    (
        "P(r1=A1, r2=Q( x = X1 ,y=Y2 ))",
        ("P", {"r1": "A1", "r2": "Q( x = X1 ,y=Y2 )"}),
        ("P(r1=A1, r2=Q(x=X1, y=Y2))", ("A1", "X1", "Y2")),
    ),
    (
        "P(r1=A1, r2=Q(x=X1,\n y=Y2))",
        ("P", {"r1": "A1", "r2": "Q(x=X1,\n y=Y2)"}),
        ("P(r1=A1, r2=Q(x=X1, y=Y2))", ("A1", "X1", "Y2")),
    ),
    (
        "P(r1=Ä, r2=C1)",
        ("P", {"r1": "Ä", "r2": "C1"}),
        "'P(r1=Ä, r2=C1)' is not a state or configuration of machine 'cfg': unexpected 'Ä, r2=C1)' at position 5",
    ),
    ("P( r1=A1 ,r2 =C1 )", ("P", {"r1": "A1", "r2": "C1"}), ("P(r1=A1, r2=C1)", ("A1", "C1"))),
    (
        "P(r1=A1, r2=Q(x=X1, x=X2, y=Y1))",
        ("P", {"r1": "A1", "r2": "Q(x=X1, x=X2, y=Y1)"}),
        "'P(r1=A1, r2=Q(x=X1, x=X2, y=Y1))' is not a valid configuration of 'cfg': region 'x' is given twice",
    ),
    (
        "P(r1=A1, r2=Q(x=X1))",
        ("P", {"r1": "A1", "r2": "Q(x=X1)"}),
        "'P(r1=A1, r2=Q(x=X1))' is not a valid configuration of 'cfg': region(s) y of 'Q' missing",
    ),
    (
        "P(r1=A1 ;r2=C1)",
        ("P", {"r1": "A1 ;r2=C1"}),
        "'P(r1=A1 ;r2=C1)' is not a state or configuration of machine 'cfg': unexpected ' ;r2=C1)' at position 7",
    ),
    (
        "P(r1=A1, r2=Q(x=X1, y=Y2)) ",
        ("P", {"r1": "A1", "r2": "Q(x=X1, y=Y2)"}),
        ("P(r1=A1, r2=Q(x=X1, y=Y2))", ("A1", "X1", "Y2")),
    ),
    (
        "P(r1=A1, r2=C1) (",
        "'P(r1=A1, r2=C1) (' is not a parallel configuration like 'P(r1=A, r2=B)'",
        "'P(r1=A1, r2=C1) (' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "P(r1=A_1, r2=C1)",
        ("P", {"r1": "A_1", "r2": "C1"}),
        "state 'A_1' is not defined in machine 'cfg'; did you mean 'A1'?",
    ),
    (LONG, LONG_MODEL_ERROR, "configuration of machine 'cfg' is too long"),
    (
        "P(r1=A1, r2=Q(x=X1, y=Y2)))",
        "unbalanced ')'",
        "'P(r1=A1, r2=Q(x=X1, y=Y2)))' is not a valid configuration of 'cfg': unexpected text after the configuration",
    ),
    (
        "P((r1=A1, r2=C1)",
        "unbalanced '('",
        "'P((r1=A1, r2=C1)' is not a valid configuration of 'cfg': expected a state name",
    ),
]

# ``configuration_leaves`` (and ``process``) say it differently for one name inside a parallel
# state (``engine.outcomes.configuration``); every other refusal is the parser's message.
PUBLIC_MESSAGES = {
    "P": "state 'P' is a parallel state of machine 'cfg': pass the whole configuration, e.g. 'P(r1=A1, r2=C1)'",
    "H": "state 'H' is inside a parallel state of machine 'cfg': pass the whole configuration, e.g. 'P(r1=A1, r2=C1)'",
    "X1": "state 'X1' is inside a parallel state of machine 'cfg': pass the whole configuration, e.g. 'P(r1=A1, r2=C1)'",
}


@pytest.fixture(scope="module")
def machine() -> StateMachine:
    return StateMachine.from_dict(DEFINITION)


@pytest.mark.parametrize(("text", "expected", "_engine"), TABLE)
def test_from_string(text: str, expected: Any, _engine: Any) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=f"^{re.escape(expected)}$") as caught:
            ParallelStateConfig.from_string(text)
        assert type(caught.value) is ValueError
        assert str(caught.value) == expected
    else:
        config = ParallelStateConfig.from_string(text)
        assert (config.state, config.regions) == expected
        assert list(config.regions) == list(expected[1]), "regions keep the order given"


@pytest.mark.parametrize(("text", "_model", "expected"), TABLE)
def test_engine_parse(machine: StateMachine, text: str, _model: Any, expected: Any) -> None:
    index = machine.index
    if isinstance(expected, str):
        with pytest.raises(UndefinedStateError) as caught:
            parse(index, text)
        assert str(caught.value) == expected
        # Refused strings are not kept: asking again gives the same answer.
        public = PUBLIC_MESSAGES.get(text, expected)
        with pytest.raises(UndefinedStateError, match=f"^{re.escape(public)}$"):
            machine.configuration_leaves(text)
    else:
        config = parse(index, text)
        assert (config.text, config.leaves) == expected
        assert parse(index, text) is config, "kept under the text as given"
        assert machine.configuration_leaves(text) == expected[1]
        # The canonical string reads back to itself.
        assert parse(index, config.text).text == config.text


@pytest.mark.parametrize(
    "text", [row[0] for row in TABLE if not isinstance(row[2], str) and "(" in row[2][0]]
)
def test_canonical_strings_round_trip_through_the_model(machine: StateMachine, text: str) -> None:
    canonical = parse(machine.index, text).text
    model = ParallelStateConfig.from_string(canonical)
    assert str(model) == canonical
    assert SHARED_CONFIGS[canonical] == model
