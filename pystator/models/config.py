"""``ParallelStateConfig``: the model form of a configuration with a parallel state active."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


def _split_top(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced ')'")
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise ValueError("unbalanced '('")
    parts.append(text[start:])
    return [p.strip() for p in parts]


class ParallelStateConfig(BaseModel):
    """A parallel state and the configuration of each of its regions.

    ``str(config)`` is the string ``process`` accepts, e.g.
    ``"MONITORING(feed=STREAMING, risk=CALM)"``; a region's value is its active leaf or a
    nested parallel configuration string.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    state: str = Field(description="The parallel state.")
    regions: dict[str, str] = Field(description="Region name -> the region's configuration.")

    def __str__(self) -> str:
        inner = ", ".join(f"{name}={value}" for name, value in self.regions.items())
        return f"{self.state}({inner})"

    def to_string(self) -> str:
        return str(self)

    @classmethod
    def from_string(cls, text: str) -> ParallelStateConfig:
        """Parse ``"P(r1=A, r2=Q(x=B, y=C))"`` (syntax only; the machine checks legality)."""
        text = text.strip()
        head, sep, rest = text.partition("(")
        if not sep or not rest.endswith(")") or not head.strip():
            raise ValueError(f"{text!r} is not a parallel configuration like 'P(r1=A, r2=B)'")
        regions: dict[str, str] = {}
        for part in _split_top(rest[:-1]):
            name, eq, value = part.partition("=")
            if not eq or not name.strip() or not value.strip():
                raise ValueError(f"{part!r} in {text!r} is not 'region=state'")
            regions[name.strip()] = value.strip()
        return cls(state=head.strip(), regions=regions)
