"""``RedisStateStore``: entities, history, outbox and idempotency keys in Redis.

Every write that must be atomic is one Lua script, and Redis runs a script to the end before
anything else: ``commit`` compares the stored version with the expected one (and, when
``commit.incarnation`` is set, the stored ``created_at`` with it, so a deleted and re-created
entity is not taken for the one the writer read), checks the idempotency key, and only then
writes the entity, appends the history row, adds the outbox items and stores the key. It
checks everything before it writes anything, so a refused commit changes nothing (Redis does
not roll a script back).

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
``commit`` run on a connection each thread keeps until it ends, see ``_connection``). The
async methods run the sync ones in a worker thread (``ThreadedAsyncStore``): one
implementation of the scripts and of decoding, no client bound to a particular event loop, at
the cost of a thread hop per call.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from typing import Any, NoReturn

try:
    import redis
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("RedisStateStore needs redis-py: pip install 'pystator[redis]'") from exc
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

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
from pystator.stores.redis_faults import REDIS_DOWN, RedisFaults, client_options

# KEYS: entity, history, idempotency, entities index, pending, pending of the machine,
#       outbox ids of the entity
# ARGV: expected, version, state, entity JSON, state-index prefix, entity id,
#       history JSON ('' = none), has key ('0'/'1'), key, key JSON, outbox prefix,
#       machine name, the entity's created_at, the incarnation ('' = not checked), n items,
#       then per item: id, JSON, status, attempts, claimed_until, created_at, has error
#       ('0'/'1'), error
# Refused: {0, actual} the version moved on, {-1, actual} the key was applied, {-2, actual}
# the stored created_at is not the incarnation (the entity was deleted and created again).
# created_at is compared as a number (an int and a float of the same value are equal); an
# entity written before 'c' was kept has it in its JSON only.
_COMMIT = """
local current = redis.call('HMGET', KEYS[1], 'v', 's', 'c')
local actual = 0
if current[1] then actual = tonumber(current[1]) end
if actual ~= tonumber(ARGV[1]) then return {0, actual} end
if ARGV[14] ~= '' and actual ~= 0 then
  local created = current[3]
  if not created then
    created = cjson.decode(redis.call('HGET', KEYS[1], 'd'))['created_at']
  end
  if tonumber(created) ~= tonumber(ARGV[14]) then return {-2, actual} end
end
local has_key = ARGV[8] == '1'
if has_key and redis.call('HEXISTS', KEYS[3], ARGV[9]) == 1 then return {-1, actual} end
local old_state = current[2]
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3], 'd', ARGV[4], 'c', ARGV[13])
if old_state ~= ARGV[3] then
  if old_state then redis.call('ZREM', ARGV[5] .. old_state, ARGV[6]) end
  redis.call('ZADD', ARGV[5] .. ARGV[3], 0, ARGV[6])
end
if actual == 0 then redis.call('ZADD', KEYS[4], 0, ARGV[6]) end
if ARGV[7] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[7]) end
if has_key then redis.call('HSET', KEYS[3], ARGV[9], ARGV[10]) end
local n = tonumber(ARGV[15])
local i = 16
for _ = 1, n do
  local id = ARGV[i]
  redis.call('HSET', ARGV[11] .. id, 'd', ARGV[i + 1], 'm', ARGV[12], 'status', ARGV[i + 2],
             'attempts', ARGV[i + 3], 'claimed_until', ARGV[i + 4], 'has_error', ARGV[i + 6],
             'last_error', ARGV[i + 7])
  if ARGV[i + 2] == 'pending' then
    redis.call('ZADD', KEYS[5], ARGV[i + 5], id)
    redis.call('ZADD', KEYS[6], ARGV[i + 5], id)
  end
  redis.call('SADD', KEYS[7], id)
  i = i + 8
end
return {1, tonumber(ARGV[2])}
"""

# KEYS: a pending zset.  ARGV: now, limit, outbox prefix.
# Walks the zset in created_at order and keeps the items whose lease has expired; after
# ``limit`` of them it still takes the rest of the last created_at (ties are sorted by the
# caller), so the cut is made in the same order as the other stores make it.
_PENDING = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = {}
local count = 0
local last = nil
local start = 0
while true do
  local ids = redis.call('ZRANGE', KEYS[1], start, start + 255, 'WITHSCORES')
  if #ids == 0 then break end
  for j = 1, #ids, 2 do
    if count >= limit and ids[j + 1] ~= last then return out end
    local h = redis.call('HMGET', ARGV[3] .. ids[j], 'd', 'status', 'attempts', 'has_error',
                         'last_error', 'claimed_until')
    if h[2] == 'pending' and tonumber(h[6]) <= now then
      out[#out + 1] = h[1]
      out[#out + 1] = h[3]
      out[#out + 1] = h[4]
      out[#out + 1] = h[5]
      out[#out + 1] = h[6]
      count = count + 1
      last = ids[j + 1]
    end
  end
  start = start + 256
end
return out
"""

# KEYS: the outbox item.  ARGV: now, until.
_CLAIM = """
local h = redis.call('HMGET', KEYS[1], 'status', 'claimed_until')
if h[1] ~= 'pending' then return 0 end
if tonumber(h[2]) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'claimed_until', ARGV[2])
return 1
"""

# KEYS: the outbox item, the pending zset.  ARGV: id, status, attempts, has error, error,
# pending-of-machine prefix.
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'attempts', ARGV[3], 'has_error', ARGV[4],
           'last_error', ARGV[5])
if ARGV[2] ~= 'pending' then
  local m = redis.call('HGET', KEYS[1], 'm')
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', ARGV[6] .. m, ARGV[1])
end
return 1
"""

# KEYS: entity, history, idempotency, entities index, outbox ids of the entity, pending,
#       pending of the machine.  ARGV: state-index prefix, entity id, outbox prefix.
_DELETE = """
local state = redis.call('HGET', KEYS[1], 's')
for _, id in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('DEL', ARGV[3] .. id)
  redis.call('ZREM', KEYS[6], id)
  redis.call('ZREM', KEYS[7], id)
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[5])
redis.call('ZREM', KEYS[4], ARGV[2])
if state then
  redis.call('ZREM', ARGV[1] .. state, ARGV[2])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS: an index zset.  ARGV: offset, limit, entity key prefix.
# Count and page in one script, so they agree with each other.
_LIST = """
local out = {redis.call('ZCARD', KEYS[1])}
local limit = tonumber(ARGV[2])
if limit <= 0 then return out end
local offset = tonumber(ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], offset, offset + limit - 1)) do
  local d = redis.call('HGET', ARGV[3] .. id, 'd')
  if d then out[#out + 1] = d end
end
return out
"""


class _Held:
    """A connection a thread keeps; handed to ``returns`` when this holder is collected (its
    thread ended) or ``release()`` is called, whichever comes first.

    The finalizer only appends to a deque: it may run inside the garbage collector at any
    allocation, including one made while this very thread holds the pool's lock (inside
    ``get_connection``), so taking that lock there would deadlock. The store gives what is
    in ``returns`` back to the pool at safe points (``RedisStateStore._give_back``).

    ``closed()`` tells whether the server closed the connection while it was idle, with one
    ``poll`` of its socket (no data is read and the socket's mode is not changed).
    """

    __slots__ = ("__weakref__", "conn", "poller", "release", "sock")

    def __init__(self, conn: Any, returns: deque[Any]) -> None:
        self.conn = conn
        self.release = weakref.finalize(self, returns.append, conn)
        self.release.atexit = False  # nothing to give back at interpreter exit
        self.sock: Any = None  # the socket ``poller`` watches
        self.poller: Any = None

    def closed(self) -> bool:
        """Whether the idle connection has something to read on its socket: the server
        closed it (a restart, its idle timeout) or sent something nobody asked for. Either way
        it cannot carry the next command. ``False`` for a connection not connected yet.

        Unlike redis-py's ``can_read``, it does not look into the parser's buffer: the kept
        connection carries only ``_run``'s commands, each reading exactly its one reply (and
        dropping the connection on anything unexpected), so nothing is ever left buffered.
        """
        conn = self.conn
        sock = getattr(conn, "_sock", None)
        if sock is None:
            return False  # not connected: sending a command connects
        if sock is not self.sock:
            make = getattr(select, "poll", None)  # looked up now: eventlet deletes it
            poller = None
            if make is not None:
                try:
                    poller = make()
                    poller.register(sock, select.POLLIN)
                except (ValueError, TypeError, OSError):  # closed under us, or no fileno()
                    return True
            self.sock, self.poller = sock, poller
        if self.poller is None:
            return bool(conn.can_read())  # no poll on this platform: the pool's own check
        return bool(self.poller.poll(0))


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
        self._faults = RedisFaults.of_client(self._redis)
        self._availability = self._faults.availability
        # redis-py types every command as "value or awaitable of it" (one signature for the
        # sync and async clients); this client is sync, so calls go through an untyped alias.
        self._r: Any = self._redis
        r = self._redis
        self._commit_script = r.register_script(_COMMIT)
        self._pending_script = r.register_script(_PENDING)
        self._claim_script = r.register_script(_CLAIM)
        self._finish_script = r.register_script(_FINISH)
        self._delete_script = r.register_script(_DELETE)
        self._list_script = r.register_script(_LIST)
        # The hot path (load, commit) runs on a connection of the client's pool that each
        # thread keeps (taking one from the pool and giving it back costs about as much as a
        # small command: a lock and a poll of the socket). See ``_run``.
        self._local = threading.local()
        self._pid = os.getpid()
        self._held: list[weakref.finalize[Any, Any]] = []  # one per holder: releases its conn
        self._held_lock = threading.Lock()
        self._returns: deque[Any] = deque()  # connections of ended holders, for the pool

    def __repr__(self) -> str:
        return f"RedisStateStore(prefix={self.prefix!r})"

    @property
    def client(self) -> redis.Redis:
        """The redis-py client (for inspection and maintenance)."""
        return self._redis

    # ------------------------------------------------------------------ connection
    def _connection(self) -> Any:
        """This thread's own connection from the client's pool."""
        return self._holder().conn

    def _holder(self) -> _Held:
        """The holder of this thread's own connection from the client's pool.

        It is kept in a ``_Held`` in a ``threading.local``: when the thread ends, its entry
        and the holder go away and the connection goes back to the pool (a thread-per-request
        server does not leak one per request); ``close()`` gives back the others.
        """
        if self._pid != os.getpid():
            # A forked child must not talk over its parent's sockets (they are the parent's),
            # nor give them back to the pool (a new one in the child).
            with self._held_lock:
                for release in self._held:
                    release.detach()
                self._held = []
            self._pid = os.getpid()
            self._local = threading.local()
            self._returns.clear()
        if self._returns:
            self._give_back()
        held: _Held | None = getattr(self._local, "held", None)
        if held is None:
            held = _Held(self._redis.connection_pool.get_connection(), self._returns)
            self._local.held = held
            with self._held_lock:
                self._held = [release for release in self._held if release.alive]
                self._held.append(held.release)
        return held

    def _run(self, *command: Any, write: bool = False) -> Any:
        """One command on this thread's connection; its reply, as the client would give it
        without response callbacks (which ``HGET`` and ``EVALSHA`` do not have).

        ``write``: a command that changes data; if its answer is lost after it was sent,
        the ``StoreUnavailableError`` says its outcome is unknown.
        """
        try:
            held = self._holder()
            conn = held.conn
            try:
                # What the pool checks when it hands a connection out, with one poll of the
                # socket (``_Held.closed``): an idle connection with something to read was
                # closed by the server (a restart, a timeout): connect again before sending,
                # so the command is not lost.
                if held.closed():
                    raise RedisConnectionError("the connection has data: the server closed it")
            except (RedisConnectionError, RedisTimeoutError, OSError):
                conn.disconnect()
                conn.connect()
            try:
                conn.send_command(*command)
            except BaseException:
                conn.disconnect()  # Redis drops an incomplete command with the connection
                raise
        except REDIS_DOWN as exc:
            self._fail(exc)  # not sent: nothing happened
        try:
            reply = conn.read_response()
        except ResponseError:
            raise  # an error reply: the connection is in order
        except BaseException as exc:
            # Anything else (a lost or timed out connection, an interrupt) may leave a reply
            # unread: drop the socket, the next command connects again.
            conn.disconnect()
            if isinstance(exc, REDIS_DOWN):
                self._fail(exc, write=write)
            raise
        if self._availability.down:
            self._availability.answered()
        return reply

    def _fail(self, exc: BaseException, *, write: bool = False) -> NoReturn:
        raise self._faults.fail(exc, write=write) from exc

    @contextlib.contextmanager
    def _guarded(self, *, write: bool = False) -> Iterator[None]:
        """Commands through the client's pool: its errors as ``StoreUnavailableError``."""
        try:
            yield
        except REDIS_DOWN as exc:
            self._fail(exc, write=write)
        if self._availability.down:
            self._availability.answered()

    def _evalsha(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        try:
            return self._run("EVALSHA", script.sha, len(keys), *keys, *args, write=True)
        except NoScriptError:  # a restarted or flushed server: load it again
            with self._guarded():
                script.sha = self._r.script_load(script.script)
            return self._run("EVALSHA", script.sha, len(keys), *keys, *args, write=True)

    def _give_back(self) -> None:
        """Return the connections of ended holders to the pool (never from a finalizer)."""
        pool = self._redis.connection_pool
        while True:
            try:
                conn = self._returns.popleft()
            except IndexError:
                return
            pool.release(conn)

    def _release_held(self) -> None:
        with self._held_lock:
            held, self._held = self._held, []
        for release in held:
            release()  # a no-op if its thread already ended
        self._local = threading.local()
        self._give_back()

    # ------------------------------------------------------------------ keys
    def _key(self, kind: str, machine_name: str, entity_id: str) -> str:
        return f"{self.prefix}{kind}:{machine_name}:{entity_id}"

    # ------------------------------------------------------------------ reads
    def load(self, machine_name: str, entity_id: str) -> EntityRecord | None:
        data = self._run("HGET", self._key("entity", machine_name, entity_id), "d")
        if data is None:
            return None
        return EntityRecord.model_validate_json(data)

    def get_idempotency(
        self, machine_name: str, entity_id: str, key: str
    ) -> IdempotencyRecord | None:
        with self._guarded():
            data = self._r.hget(self._key("idempotency", machine_name, entity_id), key)
        if data is None:
            return None
        return IdempotencyRecord.model_validate_json(data)

    def get_history(
        self, machine_name: str, entity_id: str, *, limit: int = 100, offset: int = 0
    ) -> list[TransitionRecord]:
        if limit <= 0:
            return []
        with self._guarded():
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
        with self._guarded():
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
        with self._guarded():
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
        status, actual = self._evalsha(self._commit_script, keys, args)
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
        with self._guarded(write=True):
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
        with self._guarded(write=True):
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
        with self._guarded(write=True):
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
        with self._guarded(write=True):
            for key in r.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) >= 500:
                    removed += int(r.delete(*batch))
                    batch.clear()
            if batch:
                removed += int(r.delete(*batch))
        return removed

    def close(self) -> None:
        self._release_held()
        if self._owns_client:
            self._redis.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


__all__ = ["RedisStateStore"]
