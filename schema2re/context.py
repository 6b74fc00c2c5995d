"""Per-call state of a translation: the document, the options, and the budgets that bound work.

Invariants: `tick()` is called once per schema node visited (and per enum value checked) and raises
`SchemaTooComplex` past `MAX_STEPS`, so no schema (however recursive or combinatorial) can
make a translation run for long. `unsupported()` either raises or, under `lenient`, records the
keyword and pointer for the single warning `to_regex` emits at the end. `drop()` records why an
alternative was left out (recursion cut, unreachable member count), for the error raised when
no alternative at all remains. `one_of_terms` is how a `oneOf` expands for generation
(`schema2re.exclusive.one_of_terms`, handed in by the caller so that `terms`, which expands
schemas, and `exclusive`, which needs expanded schemas, do not import each other).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schema2re.document import Document, Node
from schema2re.errors import SchemaTooComplex, UnsupportedSchemaError

MAX_STEPS = 200_000


@dataclass
class Context:
    """Document, options (`max_depth`, `lenient`, `extra_properties`), the `oneOf` expansion and
    bookkeeping of one `to_regex` call."""

    doc: Document
    max_depth: int
    lenient: bool
    one_of_terms: Callable[[Context, Node], list[Any]]
    extra_properties: bool = False
    ignored: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[tuple[str, str, str]] = field(default_factory=list)
    steps: int = 0

    def tick(self) -> None:
        """Count one unit of work; raise once the budget is spent."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SchemaTooComplex(
                f"the schema needs more than {MAX_STEPS} translation steps "
                "(too many combinations of references and alternatives, or enum values; "
                "lower max_depth)")

    def unsupported(self, keyword: str, pointer: str, message: str) -> None:
        """Refuse `keyword` at `pointer` (raise), or record it when lenient (then it is ignored)."""
        if not self.lenient:
            raise UnsupportedSchemaError(message, keyword, pointer, ignorable=True)
        entry = (keyword, pointer)
        if entry not in self.ignored:
            self.ignored.append(entry)

    def drop(self, keyword: str, pointer: str, reason: str) -> None:
        """Record why an alternative generates nothing (reported if nothing at all remains)."""
        self.dropped.append((keyword, pointer, reason))

    def is_cut(self, refs: tuple[int, ...]) -> bool:
        """Whether the last reference in `refs` goes deeper than `max_depth` levels of recursion."""
        return bool(refs) and refs.count(refs[-1]) > self.max_depth
