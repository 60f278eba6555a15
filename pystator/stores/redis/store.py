"""``RedisStateStore``: entities, history, outbox and idempotency keys in Redis.

Every write that must be atomic is one Lua script (``pystator.stores.redis.scripts``), and
Redis runs a script to the end before anything else: ``commit`` compares the stored version
with the expected one (and, when ``commit.incarnation`` is set, the stored ``created_at``
with it, so a deleted and re-created entity is not taken for the one the writer read), checks
the idempotency key, and only then writes the entity, appends the history row, adds the
outbox items and stores the key. It checks everything before it writes anything, so a
refused commit changes nothing (Redis does not roll a script back).

Keys, under the configurable ``prefix`` (default ``pystator:``); ``{m}`` is the machine name
(letters, digits and ``_``, so the first ``:`` after it ends it), ``{e}`` the entity id::

    entity:{m}:{e}            hash  v (version), s (state), d (the EntityRecord as JSON),
                                    c (created_at, for commits with an incarnation)
    history:{m}:{e}           list  TransitionRecord JSON, oldest first
    idempotency:{m}:{e}       hash  key -> IdempotencyRecord JSON
    entities:{m}              zset  entity ids (score 0: ordered by id)  -> list_entities
    state:{m}:{state}         zset  entity ids in that state             -> list_entities(state=)
    outbox:{id}               hash  d (OutboxItem JSON), m (machine), status, attempts,
                                    has_error, last_error, claimed_until
    outbox-of:{m}:{e}         set   outbox ids of an entity (for delete_entity)
    pending                   zset  pending outbox ids by created_at
    pending:{m}               zset  the same, per machine

Every client this store makes has a connect and a read timeout; a server that is down or does
not answer in time raises ``StoreUnavailableError`` (``StoreTimeoutError``), see
``pystator.stores.redis_faults``.

The sync methods use one thread-safe ``redis.Redis`` connection pool (``load`` and
``commit`` run on a connection each thread keeps until it ends, see
``pystator.stores.redis.connections``). The async methods run the sync ones in a worker
thread (``ThreadedAsyncStore``): one implementation of the scripts and of decoding, no client
bound to a particular event loop, at the cost of a thread hop per call.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from pystator.errors import StaleVersionError
from pystator.models.entity import (
    Commit,
    EntityRecord,
    IdempotencyRecord,
    OutboxItem,
    Page,
    TransitionRecord,
)
from pystator.runtime.ports import ThreadedAsyncStore
from pystator.stores.availability import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    check_timeout,
)
from pystator.stores.redis import scripts
from pystator.stores.redis.connections import HeldConnections, Holder
from pystator.stores.redis_faults import RedisFaults, client_options


class RedisStateStore(ThreadedAsyncStore):
    """A ``StateStore`` in Redis: every commit is one atomic, version-checked Lua script.

    Args:
        url: a redis-py URL, e.g. ``redis://127.0.0.1:6379/0`` (``rediss://`` for TLS).
        prefix: prepended to every key this store writes.
        client: an existing ``redis.Redis`` to use instead of ``url`` (it must not decode
            responses); the store does not close a client it was given, and uses it with
            the timeouts and retries it has.
        connect_timeout: seconds to wait for a connection (``socket_connect_timeout``);
            ``None``: no limit.
        read_timeout: seconds to wait for the answer to a command (``socket_timeout``);
            ``None``: no limit. Past either, ``StoreTimeoutError``.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "pystator:",
        client: redis.Redis | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a string")
        timeouts = client_options(
            check_timeout("connect_timeout", connect_timeout),
            check_timeout("read_timeout", read_timeout),
        )
        self.url = url
        self.prefix = prefix
        self._owns_client = client is None
        self._redis: redis.Redis = (
            client
            if client is not None
            else redis.Redis.from_url(url, decode_responses=False, **timeouts)
        )
        # redis-py types every command as "value or awaitable of it" (one signature for the
        # sync and async clients); this client is sync, so calls go through an untyped alias.
        self._r: Any = self._redis
        r = self._redis
        self._commit_script = r.register_script(scripts.COMMIT)
        self._pending_script = r.register_script(scripts.PENDING)
        self._claim_script = r.register_script(scripts.CLAIM)
        self._finish_script = r.register_script(scripts.FINISH)
        self._delete_script = r.register_script(scripts.DELETE)
        self._list_script = r.register_script(scripts.LIST)
        # The hot path (load, commit) runs on a connection of the client's pool that each
        # thread keeps; every other command borrows one from the pool, inside ``guarded``.
        self._connections = HeldConnections(r, RedisFaults.of_client(r))

    def __repr__(self) -> str:
        return f"RedisStateStore(prefix={self.prefix!r})"

    @property
    def client(self) -> redis.Redis:
        """The redis-py client (for inspection and maintenance)."""
        return self._redis

    # ------------------------------------------------------------------ kept connections
    # For tests: the calling thread's kept connection and its holder, and the finalizers of
    # the holders not yet pruned (see ``HeldConnections``).
    def _connection(self) -> Any:
        return self._connections.connection()

    def _holder(self) -> Holder:
        return self._connections.holder()

    @property
    def _held(self) -> tuple[Any, ...]:
        return self._connections.releases

    # ------------------------------------------------------------------ keys
    def _key(self, kind: str, machine_name: str, entity_id: str) -> str:
        return f"{self.prefix}{kind}:{machine_name}:{entity_id}"

    # ------------------------------------------------------------------ reads
    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        data = self._connections.run("HGET", self._key("entity", machine_name, entity_id), "d")
        if data is None:
            return None
        return EntityRecord.model_validate_json(data)

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        with self._connections.guarded():
            data = self._r.hget(self._key("idempotency", machine_name, entity_id), key)
        if data is None:
            return None
        return IdempotencyRecord.model_validate_json(data)

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        if limit <= 0:
            return []
        with self._connections.guarded():
            rows = self._r.lrange(
                self._key("history", machine_name, entity_id), offset, offset + limit - 1
            )
        return [TransitionRecord.model_validate_json(row) for row in rows]

    def list_entities(
        self, machine_name: str, *, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> Page:
        index = (
            f"{self.prefix}entities:{machine_name}"
            if state is None
            else self._key("state", machine_name, state)
        )
        with self._connections.guarded():
            out = self._list_script(
                keys=[index], args=[offset, limit, f"{self.prefix}entity:{machine_name}:"]
            )
        items = [EntityRecord.model_validate_json(d) for d in out[1:]]
        return Page(items=items, total=int(out[0]), limit=limit, offset=offset)

    def pending_actions(
        self, *, now: float, machine_name: str | None = None, limit: int = 100
    ) -> list[OutboxItem]:
        if limit <= 0:
            return []
        zset = f"{self.prefix}pending" + (f":{machine_name}" if machine_name is not None else "")
        with self._connections.guarded():
            out = self._pending_script(
                keys=[zset], args=[repr(now), limit, f"{self.prefix}outbox:"]
            )
        items: list[OutboxItem] = []
        for j in range(0, len(out), 5):
            data = json.loads(out[j])
            data["status"] = "pending"
            data["attempts"] = int(out[j + 1])
            data["last_error"] = out[j + 3].decode() if out[j + 2] == b"1" else None
            data["claimed_until"] = float(out[j + 4])
            items.append(OutboxItem.model_validate(data))
        items.sort(key=lambda i: (i.created_at, i.entity_id, i.version, i.position))
        return items[:limit]

    # ------------------------------------------------------------------ writes
    def commit(self, commit: Commit) -> None:
        entity = commit.entity
        m, e = entity.machine_name, entity.entity_id
        idem = commit.idempotency
        args: list[Any] = [
            commit.expected_version,
            entity.version,
            entity.state,
            entity.model_dump_json(),
            f"{self.prefix}state:{m}:",
            e,
            commit.transition.model_dump_json() if commit.transition is not None else "",
            "1" if idem is not None else "0",
            idem.key if idem is not None else "",
            idem.model_dump_json() if idem is not None else "",
            f"{self.prefix}outbox:",
            m,
            repr(entity.created_at),
            repr(commit.incarnation) if commit.incarnation is not None else "",
            len(commit.outbox),
        ]
        for item in commit.outbox:
            args += [
                item.id,
                item.model_dump_json(),
                item.status,
                item.attempts,
                repr(item.claimed_until),
                repr(item.created_at),
                "1" if item.last_error is not None else "0",
                item.last_error or "",
            ]
        keys = [
            self._key("entity", m, e),
            self._key("history", m, e),
            self._key("idempotency", m, e),
            f"{self.prefix}entities:{m}",
            f"{self.prefix}pending",
            f"{self.prefix}pending:{m}",
            self._key("outbox-of", m, e),
        ]
        status, actual = self._connections.evalsha(self._commit_script, keys, args)
        if status == 1:
            return
        expected = commit.expected_version
        if status == -2:
            message = f"entity '{e}' was deleted and created again (created_at is not the one read)"
        elif status == -1 and idem is not None:
            message = f"idempotency key '{idem.key}' was applied meanwhile"
        else:
            message = f"entity '{e}' is at version {actual}, not {expected}"
        raise StaleVersionError(
            message, entity_id=e, expected_version=expected, actual_version=int(actual)
        )

    def claim_action(self, item_id: str, *, now: float, until: float) -> bool:
        with self._connections.guarded(write=True):
            claimed = self._claim_script(
                keys=[f"{self.prefix}outbox:{item_id}"], args=[repr(now), repr(until)]
            )
        return bool(claimed)

    def finish_action(
        self, item_id: str, *, success: bool, attempts: int, error: str | None = None
    ) -> None:
        args = [
            item_id,
            "done" if success else "failed",
            attempts,
            "1" if error is not None else "0",
            error or "",
            f"{self.prefix}pending:",
        ]
        with self._connections.guarded(write=True):
            self._finish_script(
                keys=[f"{self.prefix}outbox:{item_id}", f"{self.prefix}pending"], args=args
            )

    def delete_entity(self, machine_name: str, entity_id: str) -> bool:
        m, e = machine_name, entity_id
        keys = [
            self._key("entity", m, e),
            self._key("history", m, e),
            self._key("idempotency", m, e),
            f"{self.prefix}entities:{m}",
            self._key("outbox-of", m, e),
            f"{self.prefix}pending",
            f"{self.prefix}pending:{m}",
        ]
        with self._connections.guarded(write=True):
            deleted = self._delete_script(
                keys=keys, args=[f"{self.prefix}state:{m}:", e, f"{self.prefix}outbox:"]
            )
        return bool(deleted)

    def clear(self) -> int:
        """Delete every key under this store's prefix (tests and tear-down); returns how many.

        Uses ``SCAN``, so it is safe on a live server, but not atomic.
        """
        r = self._r
        pattern = _glob_escape(self.prefix) + "*"
        removed = 0
        batch: list[bytes] = []
        with self._connections.guarded(write=True):
            for key in r.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(r.delete(*batch))
                    batch.clear()
            if batch:
                removed += int(r.delete(*batch))
        return removed

    def close(self) -> None:
        self._connections.release_all()
        if self._owns_client:
            self._redis.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


__all__ = ["RedisStateStore"]
