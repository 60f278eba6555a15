"""Timer records in Redis: what ``RedisScheduler`` and ``ArqScheduler`` keep, and the Lua
scripts that change them atomically.

Per machine, under a prefix (default ``pystator:timers:``):

* ``<prefix><machine>:records``: hash, member -> the timer as JSON (machine, entity, timer id,
  trigger, due time, attempts: ``TimerRecord.to_json`` in ``timer_record.py``). Everything
  needed to fire it; nothing lives only in memory.
* ``<prefix><machine>:due``: sorted set, member -> due time (Unix seconds).
* ``<prefix><machine>:claimed``: sorted set, member -> lease deadline (Unix seconds), for
  timers a replica took and has not acknowledged yet. A lease that ran out goes back to
  ``due`` on the next claim, so a replica that died holding timers does not lose them.
* ``<prefix><machine>:dead``: hash, member -> the timer as JSON with its last error, for
  timers that kept failing.

A member is ``<timer id>|<entity id>`` (``member_of``): timer ids (``<key>@<version>``) are
unique per entity only. The module knows nothing of asyncio tasks or arq; the schedulers drive
it. ``TimerRecord`` and ``member_of`` live in ``timer_record.py`` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pystator.models.snapshot import TimerSnapshot
from pystator.scheduler.timer_record import TimerRecord, member_of

REDIS_EXTRA = "pip install 'pystator[redis]'"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def import_redis(feature: str) -> Any:
    """``import redis``, or an ImportError that names the extra to install."""
    try:
        import redis
        import redis.asyncio
    except ImportError as exc:
        raise ImportError(f"{feature} needs the 'redis' extra: {REDIS_EXTRA}") from exc
    return redis


def score(value: float) -> str:
    """A float as Redis reads it back exactly."""
    return repr(float(value))


# Cancel, then arm (HSETNX: a timer id is armed at most once, so arming it again, e.g. from
# the state store after a Redis restart, never moves or duplicates it).
# KEYS: due, claimed, records. ARGV: n_cancel, cancel members..., (member, due, json)...
ARM_LUA = """
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
local armed = 0
for i = n + 2, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
    armed = armed + 1
  end
end
return armed
"""

# Requeue claims whose lease ran out, then move up to `batch` due timers to `claimed` with a
# lease deadline and return their records. One script: two replicas never take the same one.
# KEYS: due, claimed, records. ARGV: now, lease deadline, batch.
CLAIM_LUA = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[2], m)
  if redis.call('HEXISTS', KEYS[3], m) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[1], m)
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  local rec = redis.call('HGET', KEYS[3], m)
  if rec then
    redis.call('ZADD', KEYS[2], ARGV[2], m)
    out[#out + 1] = rec
  end
end
return out
"""

# Put a claimed timer back with a new due time and record (after a failure or an early
# fire), unless it was cancelled meanwhile.
# KEYS: due, claimed, records. ARGV: member, due, json.
RETRY_LUA = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""

# Move a timer that kept failing to the dead hash, unless it was cancelled meanwhile.
# KEYS: due, claimed, records, dead. ARGV: member, json.
BURY_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HDEL', KEYS[3], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
return 1
"""


@dataclass(frozen=True, slots=True)
class MachineKeys:
    """The Redis keys of one machine's timers."""

    due: str
    claimed: str
    records: str
    dead: str

    @property
    def main(self) -> list[str]:
        return [self.due, self.claimed, self.records]


class TimerBook:
    """The timer records under one prefix; every method takes the client to use, so the
    same book serves sync and async clients."""

    def __init__(self, prefix: str) -> None:
        if not prefix:
            raise ValueError("prefix must not be empty")
        self.prefix = prefix

    def keys(self, machine_name: str) -> MachineKeys:
        base = f"{self.prefix}{machine_name}:"
        return MachineKeys(base + "due", base + "claimed", base + "records", base + "dead")

    @staticmethod
    def arm_args(
        machine_name: str,
        entity_id: str,
        arm: Sequence[TimerSnapshot],
        cancel: Sequence[str],
    ) -> list[str]:
        args = [str(len(cancel)), *(member_of(entity_id, t) for t in cancel)]
        for timer in arm:
            record = TimerRecord.armed(machine_name, entity_id, timer)
            args.extend((record.member, score(timer.due), record.to_json()))
        return args

    @staticmethod
    def records(raw: Iterable[Any]) -> list[TimerRecord]:
        return [TimerRecord.from_json(item) for item in raw if item is not None]

    async def pending(self, client: Any, machine_name: str) -> dict[str, int]:
        """How many timers wait (``due``), are held by a replica (``claimed``), are dead."""
        k = self.keys(machine_name)
        async with client.pipeline(transaction=False) as pipe:
            pipe.zcard(k.due)
            pipe.zcard(k.claimed)
            pipe.hlen(k.records)
            pipe.hlen(k.dead)
            due, claimed, records, dead = await pipe.execute()
        return {"due": due, "claimed": claimed, "records": records, "dead": dead}

    async def load(self, client: Any, machine_name: str) -> list[TimerRecord]:
        """Every armed timer of a machine (for inspection and tests)."""
        raw = await client.hvals(self.keys(machine_name).records)
        return sorted(self.records(raw), key=lambda r: (r.due, r.member))

    async def dead(self, client: Any, machine_name: str) -> list[TimerRecord]:
        raw = await client.hvals(self.keys(machine_name).dead)
        return sorted(self.records(raw), key=lambda r: (r.due, r.member))

    async def ack(self, client: Any, machine_name: str, members: Sequence[str]) -> None:
        """Forget fired timers (whether or not a replica still holds them)."""
        if not members:
            return
        k = self.keys(machine_name)
        async with client.pipeline(transaction=True) as pipe:
            pipe.zrem(k.due, *members)
            pipe.zrem(k.claimed, *members)
            pipe.hdel(k.records, *members)
            await pipe.execute()


__all__ = [
    "ARM_LUA",
    "BURY_LUA",
    "CLAIM_LUA",
    "DEFAULT_REDIS_URL",
    "REDIS_EXTRA",
    "RETRY_LUA",
    "MachineKeys",
    "TimerBook",
    "TimerRecord",
    "import_redis",
    "member_of",
    "score",
]
