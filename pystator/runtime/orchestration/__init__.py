"""The parts of ``pystator.runtime.orchestrator.Orchestrator``, one concept per module.

* ``record_cache``: the opt-in record cache (``Orchestrator(record_cache=...)``), its private
  copies of committed records, and the process-wide creation stamps it relies on;
* ``result_json``: the JSON form of a result as the orchestrator stores it, kept per shared
  result and copied for each caller;
* ``commit``: pure builders of what an event commits (``build_commit``) and of a new entity
  (``new_entity``, ``creation_commit``);
* ``retry``: ``RetryPolicy``, how failing actions are retried.

``Orchestrator`` (in ``pystator.runtime.orchestrator``) is the facade; import public names from
there or from ``pystator``. Nothing is imported here, so importing one module does not import
the others.
"""
