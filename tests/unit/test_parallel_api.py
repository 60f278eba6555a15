"""``process_parallel`` and ``enter_parallel_state``: the seed's parallel API.

The configuration a call returns is shared (parsed once, see ``SHARED_CONFIGS``) and keeps its
string form; it must equal what the seed built on every call (``from_string`` of the target),
including failures (the config passed in) and leaving the parallel state (a plain name).
"""

from __future__ import annotations

from typing import Any

import pytest

from pystator import ParallelStateConfig, StateMachine, TransitionResult
from pystator.runtime import configurations as config_module
from pystator.runtime.configurations import SHARED_CONFIGS

# P has a nested parallel state Q in region r2; r1 moves on 'a' (guarded by ctx['ok']).
NESTED: dict[str, Any] = {
    "meta": {"machine_name": "nested", "strict_mode": True},
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
        {"name": "OUT"},
    ],
    "transitions": [
        {"trigger": "enter", "source": "IDLE", "dest": "P"},
        {"trigger": "a", "source": "A1", "dest": "B1", "guards": [{"expr": "ok"}]},
        {"trigger": "a", "source": "B1", "dest": "A1"},
        {"trigger": "q", "source": "C1", "dest": "Q"},
        {"trigger": "x", "source": "X1", "dest": "X2"},
        {"trigger": "out", "source": "P", "dest": "OUT"},
        {"trigger": "enter", "source": "OUT", "dest": "P"},
    ],
}

EVENTS = ["a", "a", "q", "x", "x", "nope", "a", "out", "a", "enter", "q", "a", "out"]


def _seed(
    machine: StateMachine, config: ParallelStateConfig | str, trigger: str, ctx: Any
) -> tuple[ParallelStateConfig | str, list[TransitionResult]]:
    """What ``process_parallel`` returned before it shared its configurations."""
    result = machine.process(str(config), trigger, ctx)
    if not result.success or result.target_state is None:
        return config, [result]
    target = result.target_state
    return (ParallelStateConfig.from_string(target) if "(" in target else target), [result]


@pytest.mark.parametrize("ok", [True, False])
def test_every_step_returns_what_the_seed_returned(ok: bool) -> None:
    machine = StateMachine.from_dict(NESTED)
    ctx = {"ok": ok}
    config: ParallelStateConfig | str = machine.enter_parallel_state("P")
    assert config == ParallelStateConfig(state="P", regions={"r1": "A1", "r2": "C1"})
    kinds = set()
    for event in EVENTS:
        expected, (seed_result,) = _seed(machine, config, event, ctx)
        new, (result,) = machine.process_parallel(config, event, ctx)
        assert new == expected, event
        assert type(new) is type(expected)
        assert result == seed_result
        if not result.success:
            assert new is config
        elif isinstance(new, ParallelStateConfig):
            assert str(new) == result.target_state
        kinds.add((result.success, type(new).__name__))
        config = new
    # The walk went through moves, failures and a plain state outside P.
    assert (True, "str") in kinds
    assert (False, "ParallelStateConfig") in kinds
    assert (False, "str") in kinds


def test_a_failure_returns_the_config_given_and_leaving_returns_a_name() -> None:
    machine = StateMachine.from_dict(NESTED)
    config = machine.enter_parallel_state("P")
    same, (rejected,) = machine.process_parallel(config, "a", {"ok": False})
    assert same is config
    assert rejected.metadata["reason"] == "guard_rejected"
    text = str(config)
    same_text, (undefined,) = machine.process_parallel(text, "nope")
    assert same_text is text
    assert not undefined.success
    out, (left,) = machine.process_parallel(config, "out")
    assert out == "OUT"
    assert left.success
    assert left.exited_states[-1] == "P"


def test_configurations_are_shared_and_keep_their_string() -> None:
    machine = StateMachine.from_dict(NESTED)
    config = machine.enter_parallel_state("P")
    assert machine.enter_parallel_state("P") is config
    first, _ = machine.process_parallel(config, "q")
    again, _ = machine.process_parallel(str(config), "q")
    assert first is again
    assert first == ParallelStateConfig(state="P", regions={"r1": "A1", "r2": "Q(x=X1, y=Y1)"})
    assert first.text == str(first) == first.to_string() == "P(r1=A1, r2=Q(x=X1, y=Y1))"
    # Another machine reaching the same string gets the same (immutable) configuration.
    other, _ = StateMachine.from_dict(NESTED).process_parallel(str(config), "q")
    assert other is first


def test_any_spelling_or_subclass_of_a_configuration_is_accepted() -> None:
    class Named(str):
        pass

    class MyConfig(ParallelStateConfig):
        pass

    machine = StateMachine.from_dict(NESTED)
    expected = ParallelStateConfig(state="P", regions={"r1": "A1", "r2": "Q(x=X1, y=Y1)"})
    for given in (
        "P(r1=A1,r2=C1)",
        Named("P(r1=A1, r2=C1)"),
        MyConfig(state="P", regions={"r1": "A1", "r2": "C1"}),
    ):
        moved, (result,) = machine.process_parallel(given, "q")
        assert result.success, given
        assert moved == expected


def test_the_kept_string_follows_a_copy_with_changes() -> None:
    config = ParallelStateConfig.from_string("P(r1=A1, r2=C1)")
    assert str(config) == "P(r1=A1, r2=C1)"
    changed = config.model_copy(update={"regions": {"r1": "B1", "r2": "C1"}})
    assert str(changed) == "P(r1=B1, r2=C1)"
    assert str(config.model_copy()) == "P(r1=A1, r2=C1)"
    assert str(config.model_copy(update={"state": "Z"}, deep=True)) == "Z(r1=A1, r2=C1)"
    # The kept string is no field: equality, dumps and validation ignore it.
    fresh = ParallelStateConfig(state="P", regions={"r1": "A1", "r2": "C1"})
    assert fresh == config
    assert config.model_dump() == {"state": "P", "regions": {"r1": "A1", "r2": "C1"}}
    assert ParallelStateConfig.model_validate_json(config.model_dump_json()) == config


def test_the_shared_configurations_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_module, "MAX_SHARED", 3)
    saved = dict(SHARED_CONFIGS)
    SHARED_CONFIGS.clear()
    try:
        made = [SHARED_CONFIGS[f"P(r1=S{i})"] for i in range(7)]
        assert len(SHARED_CONFIGS) <= 3
        assert [c.regions["r1"] for c in made] == [f"S{i}" for i in range(7)]
        assert SHARED_CONFIGS["P(r1=S6)"] is made[6]
        with pytest.raises(ValueError, match="is not a parallel configuration"):
            SHARED_CONFIGS["P"]
    finally:
        SHARED_CONFIGS.clear()
        SHARED_CONFIGS.update(saved)
