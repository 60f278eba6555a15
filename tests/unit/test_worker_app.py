"""What ``pystator worker --app module:name`` accepts, and the command's error lines.

No Redis here: resolving an app and building its settings touch no server.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from pystator import InMemoryStateStore, Orchestrator, StateMachine
from pystator.cli import main
from pystator.worker import WorkerApp, WorkerAppError, import_target, resolve_app


def orchestrator(name: str = "m", scheduler: Any = None) -> Orchestrator:
    machine = StateMachine.from_dict(
        {"meta": {"machine_name": name}, "states": [{"name": "A", "type": "initial"}]}
    )
    return Orchestrator(machine, InMemoryStateStore(), scheduler=scheduler)


async def test_every_documented_form_resolves_to_a_worker_app() -> None:
    one, two = orchestrator("one"), orchestrator("two")

    def factory() -> list[Orchestrator]:
        return [one, two]

    async def async_factory() -> dict[str, Orchestrator]:
        return {"one": one, "two": two}

    app = WorkerApp([one, two], max_tries=2)
    for target in (app, {"one": one, "two": two}, [one, two], factory, async_factory):
        resolved = await resolve_app(target)
        assert resolved.orchestrators == {"one": one, "two": two}
    assert await resolve_app(app) is app
    assert (await resolve_app(one)).orchestrators == {"one": one}


async def test_bad_apps_are_refused_with_a_reason() -> None:
    one = orchestrator("one")
    with pytest.raises(WorkerAppError, match="use the machine's name"):
        WorkerApp({"other": one})
    with pytest.raises(WorkerAppError, match="two orchestrators"):
        WorkerApp([one, orchestrator("one")])
    with pytest.raises(WorkerAppError, match="no orchestrators"):
        WorkerApp([])
    with pytest.raises(WorkerAppError, match="expected Orchestrator"):
        WorkerApp({"one": "not an orchestrator"})  # type: ignore[dict-item]
    with pytest.raises(WorkerAppError, match="must be a WorkerApp"):
        await resolve_app(42)


def test_import_target_reads_module_colon_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_worker_app.py").write_text("class Box:\n    value = 7\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert import_target("my_worker_app:Box.value") == 7
    with pytest.raises(WorkerAppError, match="MODULE:NAME"):
        import_target("my_worker_app")
    with pytest.raises(WorkerAppError, match="has no attribute 'missing'"):
        import_target("my_worker_app:missing")
    with pytest.raises(WorkerAppError, match="cannot import module 'no_such_module_here'"):
        import_target("no_such_module_here:app")


def test_settings_default_from_the_schedulers() -> None:
    from pystator.scheduler import ArqScheduler

    scheduler = ArqScheduler("redis://example.invalid:6380/2", queue_name="orders:queue")
    app = WorkerApp([orchestrator("one", scheduler)])
    assert (app.redis_url, app.queue_name) == ("redis://example.invalid:6380/2", "orders:queue")
    assert app.schedulers() == [scheduler]
    assert [app.retry_delay_for(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_worker_settings_shorten_arqs_crash_delays() -> None:
    from pystator.scheduler import ArqScheduler
    from pystator.worker import build_worker

    scheduler = ArqScheduler(job_timeout=5, queue_name="q")
    app = WorkerApp([orchestrator("one", scheduler)], max_tries=4, job_timeout=5)
    worker = build_worker(app, handle_signals=False)
    # arq's Worker takes (or makes) the current event loop; close what it made.
    worker.loop.close()
    asyncio.set_event_loop(None)
    assert worker.queue_name == "q"
    assert worker.in_progress_timeout_s == 15  # job_timeout + arq's 10 s
    assert worker.poll_delay_s == 0.1
    timer_job = worker.functions["pystator_fire_timer"]
    event_job = worker.functions["pystator_process_event"]
    assert (timer_job.keep_result_s, timer_job.timeout_s) == (0, 5)
    assert event_job.max_tries == 14  # our own limit (4) comes first


def test_cli_worker_needs_an_app(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: worker needs --app MODULE:NAME")
    assert len(err.strip().splitlines()) == 1


def test_cli_worker_reports_an_app_that_does_not_load(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "--app", "no_such_module_here:app"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: cannot import module 'no_such_module_here': " + (
        "No module named 'no_such_module_here'"
    )


def test_cli_worker_help_lists_its_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["worker", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for word in ("--app MODULE:NAME", "submit", "dead-letters", "replay", "--rearm"):
        assert word in out


def test_cli_replay_needs_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "replay"]) == 2
    assert "replay needs dead-letter IDs or --all" in capsys.readouterr().err


def test_the_redis_schedulers_name_the_extra_when_redis_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pystator.scheduler import ArqScheduler, RedisScheduler

    for name in ("redis", "redis.asyncio", "arq"):
        monkeypatch.setitem(sys.modules, name, None)
    for cls in (RedisScheduler, ArqScheduler):
        with pytest.raises(
            ImportError, match=r"needs the 'redis' extra.*pip install 'pystator\[redis\]'"
        ):
            cls()


async def test_an_event_jobs_result_leaves_the_entitys_context_out() -> None:
    # arq keeps a job's return value in Redis: like the orchestrator's stored results, it
    # must not copy the entity's data. Called directly, as arq calls it; a job that succeeds
    # touches no Redis.
    from pystator.worker.events import CTX_APP, process_event_job

    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "acct"},
            "states": [{"name": "OPEN", "type": "initial"}, {"name": "HELD"}],
            "transitions": [
                {"trigger": "hold", "source": "OPEN", "dest": "HELD", "assign": {"n": "n + 1"}}
            ],
        }
    )
    accounts = Orchestrator(machine, InMemoryStateStore())
    await accounts.async_create_entity("e1", {"n": 1, "card": "4242 4242"})
    ctx: dict[Any, Any] = {CTX_APP: WorkerApp([accounts]), CTX_APP + ":queue": None}
    data = await process_event_job(ctx, "acct", "e1", "hold", {"amount": 5}, "key-1", 0.0)
    assert (data["success"], data["source_state"], data["target_state"]) == (True, "OPEN", "HELD")
    assert "context" not in data
    assert "4242" not in repr(data)
    entity = await accounts.async_get_entity("e1")
    assert entity is not None
    assert entity.context["n"] == 2  # the entity has it, assign applied
