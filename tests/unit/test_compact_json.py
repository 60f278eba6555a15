"""``pystator._json.compact_iterencode`` (the C encoder, made once and called directly)
writes what its plain twin, ``JSONEncoder(...).iterencode``, writes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from pystator import _json
from pystator._json import compact_iterencode, plain_iterencode

Encode = Callable[..., Iterable[str]]


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


def to_json(value: Any) -> Any:
    """A ``default`` that knows a few types, and fails on the others as ``json`` does."""
    if isinstance(value, Point):
        return {"x": value.x, "y": value.y}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


VALUES: dict[str, Any] = {
    "empty dict": {},
    "empty list": [],
    "scalars": [None, True, False, 0, -1, 2**70, 1.5, -0.0, 1e300, "", "text"],
    "nested": {"a": {"b": [1, {"c": [[], {}, [None]]}]}, "d": (1, 2), "e": [{"f": "g"}] * 3},
    "unicode": {"café": "naïve ☃ 𝄞", "emoji": "🙂", "quote": 'a"b\\c\n\t\x00\x1f', "日本": "語"},
    "keys": {1: "int", 2.5: "float", False: "bool", None: "none", "s": "str"},
    "default hook": {"p": Point(1, 2), "s": {3, 1, 2}, "deep": [[Point(0, -1)]]},
    "bare string": "just a string",
    "bare number": 42,
}

NON_FINITE: dict[str, Any] = {
    "nan": math.nan,
    "infinities": [math.inf, -math.inf],
    "nested nan": {"a": [1, {"b": math.nan}]},
}


def encoded(encode: Encode, value: Any) -> str:
    return "".join(encode(value, 0))


def encoders(allow_nan: bool) -> tuple[Encode, Encode]:
    return (
        compact_iterencode(to_json, allow_nan=allow_nan),
        plain_iterencode(to_json, allow_nan=allow_nan),
    )


@pytest.mark.parametrize("allow_nan", [True, False])
@pytest.mark.parametrize("name", list(VALUES))
def test_the_c_encoder_writes_what_the_plain_encoder_writes(allow_nan: bool, name: str) -> None:
    compact, plain = encoders(allow_nan)
    value = VALUES[name]
    text = encoded(compact, value)
    assert text == encoded(plain, value)
    assert text == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan, default=to_json
    )


@pytest.mark.parametrize("name", list(NON_FINITE))
def test_non_finite_numbers_are_written_when_allowed_and_refused_otherwise(name: str) -> None:
    value = NON_FINITE[name]
    compact, plain = encoders(True)
    text = encoded(compact, value)
    assert text == encoded(plain, value)
    assert "NaN" in text or "Infinity" in text
    compact, plain = encoders(False)
    for encode in (compact, plain):
        with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
            encoded(encode, value)


def test_a_value_the_default_refuses_fails_alike() -> None:
    compact, plain = encoders(True)
    for encode in (compact, plain):
        with pytest.raises(TypeError, match="object is not JSON"):
            encoded(encode, {"a": [object()]})


def test_a_value_that_contains_itself_fails_in_both() -> None:
    # The C encoder has no markers of circular references: it runs out of stack instead.
    loop: list[Any] = [1]
    loop.append(loop)
    compact, plain = encoders(True)
    with pytest.raises(RecursionError):
        encoded(compact, loop)
    with pytest.raises(ValueError, match="Circular reference"):
        encoded(plain, loop)


def test_without_a_c_encoder_the_plain_twin_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json.encoder, "c_make_encoder", None)
    encode = _json.compact_iterencode(to_json, allow_nan=False)
    assert getattr(encode, "__self__", None).__class__ is json.JSONEncoder
    for value in VALUES.values():
        assert encoded(encode, value) == encoded(plain_iterencode(to_json, allow_nan=False), value)
