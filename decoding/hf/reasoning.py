"""Reasoning sections (`reasoning=(open, close)`): free text up to a closing marker, then the
constraint, as one expression.

The language of `Reasoning(open, close).constraint(inner)`:

    open?  T  inner        T = { u.close : u valid UTF-8, and close occurs in u.close only
                                 as its end }

built with intersection and complement (`cat(TEXT, close)` without the strings where `close`
ends before the last byte). So the free text never holds the closing marker (not even
overlapping it), and the first occurrence of `close` in an output is the marker: `split` cuts
there, unambiguously. The opening marker is optional: chat templates of reasoning models often
end the prompt with it; where the prompt does not, the model may write it itself (typedecode
never writes it). Either way it is not part of the reasoning text.

`Completion.text` is the whole output (opening marker, reasoning, closing marker, answer);
`Completion.value` is the answer parsed by the inner constraint; `Completion.reasoning` the free
text. `stream` yields the whole text as it comes.

`closing(guide, speller, state, out)`: the tokens that end the reasoning now (what
`max_reasoning_tokens` forces): the smallest continuation bytes that complete a UTF-8 character
left open at the end of `out`, then the rest of the closing marker (what is not already written
at the end of `out`), spelled with the vocabulary's tokens and checked against the guide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from decoding.automaton import expr as x
from decoding.automaton.dfa import DEAD
from decoding.automaton.hir import to_expr
from decoding.automaton.language import Language
from decoding.automaton.syntax import parse
from decoding.errors import GenerationError, UsageError
from decoding.hf.constraint import Constraint
from decoding.hf.options import reasoning_markers
from decoding.tokens.spelling import Speller

if TYPE_CHECKING:
    from decoding.guides.guide import Guide


@dataclass(frozen=True)
class Reasoning:
    """The two markers of a reasoning section (see the module docstring)."""

    open: str
    close: str

    @classmethod
    def of(cls, value: object) -> Reasoning | None:
        """The section of a `reasoning=` argument: None, or two non-empty marker strings
        (`UsageError` otherwise)."""
        markers = reasoning_markers(value)
        return None if markers is None else cls(*markers)

    def expression(self, inner: x.Expr) -> x.Expr:
        """`open? T inner` (see the module docstring)."""
        close = x.literal(self.close)
        early = x.cat(x.TOP, close, x.repeat(x.ANY_BYTE, 1, None))
        section = x.difference(x.cat(x.TEXT, close), early)
        return x.cat(x.optional(x.literal(self.open)), section, inner)

    def constraint(self, inner: Constraint) -> Constraint:
        """`inner` behind a reasoning section: its value is `inner`'s value of the answer."""
        if inner.engine != "automaton":
            raise UsageError('reasoning= needs the automaton engine (engine="automaton")')
        name = f"reasoning:{self.open!r}:{self.close!r}:{inner.key!r}"
        language = Language(name, lambda: self.expression(_expression(inner.pattern)))
        return Constraint(language, (name, 0, inner.engine), inner.engine,
                          lambda text: inner.parse(self.split(text)[1]))

    def split(self, text: str) -> tuple[str, str]:
        """(reasoning, answer) of an output of the section's language."""
        end = text.find(self.close)
        if end < 0:
            return text, ""
        thought = text[:end]
        if thought.startswith(self.open):
            thought = thought[len(self.open):]
        return thought, text[end + len(self.close):]

    def open_in(self, out: bytes) -> bool:
        """Whether an output so far is still inside the section (no closing marker yet)."""
        return self.close.encode("utf-8") not in out

    def closing(self, guide: Guide, speller: Speller, state: int, out: bytes) -> list[int]:
        """Token ids that end the section from `state` after output `out` (see the module
        docstring); `GenerationError` if the guide refuses them."""
        automaton, close = guide.automaton, self.close.encode("utf-8")
        text, s = bytes(out), state
        while _open_character(text):
            b = next((b for b in range(0x80, 0xC0) if automaton.step(s, b) != DEAD), None)
            if b is None:
                raise GenerationError("cannot complete the character open at the end of the "
                                      "reasoning text")
            text, s = text + bytes((b,)), automaton.step(s, b)
        for k in range(len(close) - 1, -1, -1):
            whole = text + close[k:]
            if text.endswith(close[:k]) and whole.find(close) == len(whole) - len(close) \
                    and automaton.walk(s, close[k:]) != DEAD:
                break
        tokens = speller.spell(whole[len(out):])
        if tokens is None:
            raise GenerationError(f"the closing marker {self.close!r} cannot be spelled with "
                                  f"the vocabulary's tokens")
        return list(tokens)


def _expression(pattern: object) -> x.Expr:
    """The expression of a constraint's pattern (expression, `Language` or automaton regex)."""
    if isinstance(pattern, x.Expr):
        return pattern
    if isinstance(pattern, Language):
        return pattern.expression()
    return to_expr(parse(pattern))


def _open_character(data: bytes) -> bool:
    """Whether `data` ends inside a UTF-8 character."""
    for back in range(1, min(4, len(data)) + 1):
        lead = data[-back]
        if not 0x80 <= lead < 0xC0:
            size = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            return size > back
    return False
