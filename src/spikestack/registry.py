"""Name registries (neurons, layers, models, surrogates, ...).

A registry maps lower-case names to factories, raises on duplicate names, and
answers unknown names with the closest matches.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[F]):
    """``registry.register("name")(factory)``, ``registry.get("name")``, ``registry.names()``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        key = name.lower()

        def decorator(factory: F) -> F:
            if key in self._entries:
                raise ValueError(f"a {self.kind} named {name!r} is already registered")
            self._entries[key] = factory
            return factory

        return decorator

    def get(self, name: str) -> F:
        if not isinstance(name, str):
            raise TypeError(f"{self.kind} name must be a string; got {type(name).__name__}")
        key = name.lower()
        if key not in self._entries:
            close = difflib.get_close_matches(key, list(self._entries), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(
                f"unknown {self.kind} {name!r}{hint} (available: {', '.join(self.names())})"
            )
        return self._entries[key]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
