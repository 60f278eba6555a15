"""The parts of ``pystator.runtime.orchestrator.Orchestrator``, one concept per module.

The orchestrator's procedures are generators of typed effects, written once and driven by a
sync and an async runner:

* ``effects``: the effect values (``Load``, ``ReadKey``, ``Save``, ``Process``, ``Fire``,
  ``Start``, ``RunAction``, ``Sleep``, ``ArmTimers``, ``PendingActions``, ``ClaimAction``,
  ``FinishAction``) and the typed helper of each, which says what a step receives;
* ``runners``: ``run`` and ``arun``, which perform the effects (one ``match``) with the sync
  or the async methods of the store, the machine, its executor and the scheduler;
* ``parts``: ``OrchestratorParts``, the orchestrator as the procedures and runners see it;
* ``events``: the one event procedure (``event_procedure``, what ``process_event``,
  ``fire_timer`` and their async twins run), with its retries;
* ``record_policy``: what the event procedure asks the record cache (no cache, or
  ``record_cache=N``), and how the cache behaves;
* ``creation``: new entities (``create``, behind ``create_entity``; ``initial_record``, the
  record an event for an unknown entity starts from);
* ``outbox``: running an event's actions, and ``recover``;
* ``timer_handoff``: timers handed to the scheduler after a commit;
* ``idempotency``: what a key stands for (``fingerprint``) and the replay of a used key;
* ``checks``: the orchestrator's options, an event's arguments, the ``context_validator``.

Values and speed tricks the procedures use:

* ``commit``: pure builders of what an event commits (``build_commit``) and of a new entity
  (``new_entity``, ``creation_commit``);
* ``record_cache``: the record cache's storage (``RecordCache``), its private copies of
  committed records (``private_copy``, a speed trick beside its plain twin), and the
  process-wide creation stamps it relies on;
* ``result_json``: the JSON form of a result as the orchestrator stores it, kept per shared
  result and copied for each caller (speed tricks, each beside its plain twin);
* ``retry``: ``RetryPolicy``, how failing actions are retried.

``Orchestrator`` (in ``pystator.runtime.orchestrator``) is the facade; import public names from
there or from ``pystator``. Nothing is imported here, so importing one module does not import
the others.
"""
