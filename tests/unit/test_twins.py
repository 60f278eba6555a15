"""``PYSTATOR_PLAIN_TWINS`` swaps a speed trick for its plain twin (``pystator._twins``), so
``benchmarks.tricks`` can measure what each trick gains. Each case runs a fresh interpreter,
since the switch is read at import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pystator import _twins


def _python(code: str, twins: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop(_twins.ENV, None)
    if twins is not None:
        env[_twins.ENV] = twins
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


SWAPS = {
    "construct": "import pystator._unvalidated as m; print(m.construct is m.plain_construct)",
    "field_copier": (
        "import pystator._unvalidated as m; print(m.field_copier is m.plain_field_copier)"
    ),
    "compact_json": "import pystator._json as m; print(m.compact_iterencode is m.plain_iterencode)",
    "frozen_records": (
        "import pystator.stores.memory as s, pystator.stores.frozen_records as m; "
        "print(s.freeze is m.plain_freeze and s.thaw is m.plain_thaw)"
    ),
    "private_copy": (
        "import pystator.runtime.orchestration.record_cache as m; "
        "print(m.private_copy is m.plain_private_copy)"
    ),
    "result_json": (
        "import pystator.runtime.orchestration.result_json as m; "
        "print(m.ResultJson is m.PlainResultJson)"
    ),
    "held_connections": (
        "import pystator.stores.redis.connections as m; "
        "print(m.HeldConnections is m.PooledCommands)"
    ),
    "psycopg_cursor": (
        "from pystator.stores.sql.connections import SQLConnections as C; "
        "print(C.cursor is C.plain_cursor)"
    ),
    "fast_select": (
        "from pystator import StateMachine; from pystator.runtime import fast_select as f; "
        "print(StateMachine.select is f.plain_select)"
    ),
    "fast_expr": (
        "import ast; from pystator.engine.expr.fast import fast_compare; "
        "from pystator.engine.expr.compiler import Code; "
        "print(fast_compare(ast.Lt, Code(bool, key='a'), Code(bool, key='b'), bool) is None)"
    ),
}


@pytest.mark.parametrize("trick", sorted(SWAPS))
def test_the_switch_swaps_the_trick_for_its_twin(trick: str) -> None:
    shipped = _python(SWAPS[trick], None)
    swapped = _python(SWAPS[trick], trick)
    assert (shipped.stdout.strip(), swapped.stdout.strip()) == ("False", "True"), (
        shipped.stderr + swapped.stderr
    )


def test_all_swaps_every_trick() -> None:
    done = _python("import pystator._twins as t; print(sorted(t.PLAIN) == sorted(t.TRICKS))", "all")
    assert done.stdout.strip() == "True", done.stderr


def test_an_unknown_trick_is_refused_with_the_list_of_tricks() -> None:
    done = _python("import pystator", "constuct")
    assert done.returncode != 0
    assert "unknown trick(s) constuct" in done.stderr
    assert "construct" in done.stderr.split("the tricks are:")[1]


def test_use_plain_twin_refuses_a_name_it_does_not_know() -> None:
    with pytest.raises(ValueError, match="unknown trick"):
        _twins.use_plain_twin("nope")


def test_a_plain_twin_computes_what_the_trick_does() -> None:
    """The same event through an orchestrator gives the same stored entity either way."""
    code = (
        "from pystator import StateMachine, Orchestrator; "
        "from pystator.stores.memory import InMemoryStateStore; "
        "m = StateMachine.from_dict({'meta': {'machine_name': 't'}, 'states': "
        "[{'name': 'a', 'type': 'initial'}, {'name': 'b'}], 'transitions': "
        "[{'trigger': 'go', 'source': 'a', 'dest': 'b', 'assign': {'n': 'n + 1'}}]}); "
        "o = Orchestrator(m, InMemoryStateStore()); "
        "r = o.process_event('e', 'go', {'n': 1}); e = o.get_entity('e'); "
        "print(r.target_state, e.state, e.context, e.version)"
    )
    shipped = _python(code, None)
    swapped = _python(code, "all")
    assert shipped.returncode == 0, shipped.stderr
    assert swapped.returncode == 0, swapped.stderr
    assert shipped.stdout == swapped.stdout == "b b {'n': 2} 1\n"
