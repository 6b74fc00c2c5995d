"""Where JSON whitespace may appear in the generated text, and how much.

Contract of `Whitespace.parse(option)`:
- `None` (default): one optional space after `:` and after `,`, nothing anywhere else (small
  models ramble when whitespace is free).
- `"flexible"`: JSON whitespace (space, tab, newline, carriage return), at most
  `FLEXIBLE_MAX` characters, at every place JSON allows it inside a value.
- any other string: a regex used as given, wrapped in `(?:...)`, at every place JSON allows
  whitespace inside a value. It must compile with the `regex` module.
Anything else raises `decoding.errors.UsageError` naming the option.
Whitespace before and after the top-level value is never generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from decoding.automaton.syntax import check_unrolled
from decoding.errors import PatternTooComplex, UsageError
from schema2re.rx import EMPTY, Rx, alt, cat, lit, opt, raw

FLEXIBLE_MAX = 16


@dataclass(frozen=True)
class Whitespace:
    """Whitespace fragments: `after` follows `:` and `,`; `inner` goes everywhere else."""

    after: Rx
    inner: Rx

    @staticmethod
    def parse(option: str | None) -> "Whitespace":
        """The whitespace policy for the `whitespace=` option of `to_regex` (see module doc)."""
        if option is None:
            return Whitespace(after=opt(lit(" ")), inner=EMPTY)
        if not isinstance(option, str):
            raise UsageError(f"whitespace must be None, 'flexible' or a regex string, not {option!r}")
        if option == "flexible":
            ws = raw(f"[\\t\\n\\r ]{{0,{FLEXIBLE_MAX}}}")
            return Whitespace(after=ws, inner=ws)
        try:
            check_unrolled(option)  # what would crash regex.compile
            regex.compile(option)
        except regex.error as exc:
            raise UsageError(f"whitespace regex {option!r} does not compile: {exc}") from None
        except PatternTooComplex as exc:
            raise UsageError(f"whitespace regex {option[:60]!r}: {exc.reason}") from None
        ws = raw(f"(?:{option})") if option else EMPTY
        return Whitespace(after=ws, inner=ws)

    def colon(self) -> Rx:
        """The separator between a key and its value."""
        return cat(self.inner, lit(":"), self.after)  # type: ignore[return-value]

    def comma(self) -> Rx:
        """The separator between two members or elements."""
        return cat(self.inner, lit(","), self.after)  # type: ignore[return-value]

    def container(self, open_: str, body: Rx | None, close: str, *, allow_empty: bool) -> Rx | None:
        """`open_ body close` (inner whitespace around the body), or `open_ close` if allow_empty.

        `body` is the non-empty content (None: no non-empty content is possible).
        """
        full = cat(lit(open_), self.inner, body, self.inner, lit(close)) if body is not None else None
        empty = cat(lit(open_), self.inner, lit(close)) if allow_empty else None
        return alt([full, empty])
