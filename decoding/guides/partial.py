"""PartialGuide: the `regex` module's partial matching behind the guide contract.

For patterns outside the automaton's syntax (lookaround, backreferences...). A state is the text
generated so far, held as its whole characters plus the bytes of an unfinished last character.

Invariants:
- Whole characters are viable when `regex.fullmatch(text, partial=True)` matches (the text can
  still be extended to a full match: RELLM's test). Invalid UTF-8 is never viable.
- Text ending inside a character (bytes `pending`) is viable when its whole characters are and
  some candidate character c that completes `pending` keeps them viable, and the vocabulary
  spells c's remaining bytes as tokens (pieces of continuation bytes). The candidates of
  `pending` are the characters written in the pattern that start with it, and the completions
  that vary the byte after it and fill any later byte with 0x80: every completion when one byte
  is missing, a spread of 64 when more are. The candidates of a longer `pending` include those
  of a shorter one that start with it.
- A token is allowed iff the state's text followed by its bytes is viable; EOS iff the state is
  accepting (no unfinished character and `regex.fullmatch` matches). `is_finished`: accepting
  and no token allowed.
- Rescue: where the candidates leave a state that is not accepting without any token, the first
  token found by trying every completion of every unfinished character is allowed instead (up to
  262,144 completions per character; under a second on SmolLM2's 49k tokens even when nothing
  fits). It is needed where the pattern goes on only with characters the candidates miss, e.g.
  a backreference to a rare character that the vocabulary spells byte by byte.
- So a state never dead-ends inside a character: the next piece of the character that made it
  viable is allowed there (a candidate of the longer prefix, or found again by the rescue). At a
  character boundary the `regex` module's answer is trusted: the state allows a token whenever
  the pattern can go on with a character the vocabulary spells (as a token, or its first bytes
  as one followed by tokens of continuation bytes; byte-level and byte-fallback vocabularies
  spell nearly every character). A pattern the module over-approves in partial mode (`x$y`,
  `x\\by`, contradictory lookarounds) can still reach a state that allows nothing.
- Incomplete by design: outside the rescue, a token that ends two or more bytes short of a
  character is allowed only toward a candidate (`\\w` after a lone 0xF3 byte is refused: the
  spread holds no word character); such characters still come through tokens with more of
  their bytes.
- Cost: a state's mask is one depth-first walk of the vocabulary's byte trie (`decoding.tokens.trie`),
  pruned at the first node whose text is not viable (one failed prefix rules out every token
  below it). `regex` is called where a character is completed at a node that ends a token or
  branches, and once per candidate for a token that ends inside a character (at most 64 plus
  the pattern's own characters). Masks and candidate lists are memoized per guide.
- Bounded: one public call (a mask, `is_accepting`) spends at most `MATCH_BUDGET_S` seconds in
  `regex` matching, and raises `PatternTooComplex` past it or where the module itself gives up
  (`MemoryError` on `(?R)` recursion); any failure of `regex.compile` is a `PatternError`, and
  text whose counted repeats the module would write out past `syntax.MAX_UNROLLED` items
  (where its compiler crashes the process) is refused with `PatternTooComplex` before it is
  compiled (`syntax.check_unrolled`).
`PartialGuide` satisfies `decoding.guides.protocol.TokenGuide` (the guide contract) but not
`ForcedTextGuide`: it has no forced text, so the decoding loop never jumps forward with it.

Threads: a `PartialGuide` may be shared (a `Generator` memoizes one per pattern). New states are
numbered and masks computed under the guide's lock (checked again inside it); a known state or
mask is read without it. Masks are never replaced, and their numpy buffers are read-only. The
candidate memo stores a function of its key (two threads may compute one, never differently).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from itertools import islice

import numpy as np
import regex
import torch

from decoding.automaton.hir import SURROGATES
from decoding.automaton.syntax import check_unrolled
from decoding.errors import (
    PatternSyntaxError,
    PatternTooComplex,
    TokenRejected,
    UsageError,
)
from decoding.guides.arguments import as_int, checked_state
from decoding.tokens.index import shared_mask
from decoding.tokens.trie import TokenTrie, trie_of
from decoding.tokens.vocabulary import Vocabulary
from decoding.util import gc_paused

Text = tuple[str, bytes]  # whole characters, bytes of the unfinished last character

MATCH_BUDGET_S = 10.0
"""Seconds of `regex` matching one public call (a mask, `is_accepting`) may spend in all."""


class PartialGuide:
    """A guide that tests prefixes with `regex` partial matching (any pattern the module takes)."""

    def __init__(self, pattern: str | regex.Pattern, vocabulary: Vocabulary,
                 vocab_size: int | None = None):
        text = pattern if isinstance(pattern, str) else None
        if text is not None:
            check_unrolled(text, " (the automaton engine takes counted repeats without writing "
                                 "them out)")
        try:
            self._regex = pattern if isinstance(pattern, regex.Pattern) else regex.compile(pattern)
        except regex.error as e:
            raise PatternSyntaxError(f"invalid pattern: {e.msg}", text, e.pos) from None
        except RecursionError:
            raise PatternTooComplex("the pattern is nested too deeply for the regex module",
                                    text, None) from None
        except Exception as e:  # noqa: BLE001 - the module's own failures ((?V1)(?V0): KeyError)
            raise PatternSyntaxError(f"the regex module cannot compile the pattern "
                                     f"({type(e).__name__}: {e})", text, None) from None
        self.pattern = self._regex.pattern
        self.vocabulary = vocabulary
        self.vocab_size = vocab_size or vocabulary.size
        if self.vocab_size < vocabulary.size:
            raise UsageError(f"vocab_size (the mask width) {self.vocab_size} is smaller than "
                             f"the vocabulary ({vocabulary.size})")
        self._trie = _walkable(trie_of(vocabulary))
        self._eos = sorted(vocabulary.eos_token_ids)
        # Surrogates are no candidates: UTF-8 text never holds one.
        lo, hi = SURROGATES
        self._named = sorted({c for c in self.pattern if ord(c) > 0x7F and not lo <= ord(c) <= hi})
        self._texts: list[Text] = [("", b"")]
        self._states: dict[bytes, int] = {b"": 0}
        self._masks: dict[int, torch.Tensor] = {}
        self._open: dict[int, bool] = {}  # state -> some non-EOS token is allowed
        self._candidates: dict[bytes, list[str]] = {}  # unfinished character -> candidates
        self._lock = threading.RLock()  # held to add states and masks
        self.initial_state = 0
        self._deadline: float | None = None  # end of the running call's matching budget

    def _state(self, state: int) -> int:
        return checked_state(state, len(self._texts))

    def allowed_tokens(self, state: int) -> torch.Tensor:
        state = self._state(state)
        mask = self._masks.get(state)
        if mask is None:
            with self._lock:
                mask = self._masks.get(state)
                if mask is None:
                    with self._budget():
                        mask = self._masks[state] = self._compute_mask(state)
        return mask

    def advance(self, state: int, token_id: int) -> int:
        state, token_id = self._state(state), as_int(token_id, "token_id")
        if token_id in self.vocabulary.eos_token_ids:
            if self.is_accepting(state):
                return state
            raise TokenRejected(f"EOS (token {token_id}) is not allowed before the pattern is "
                                f"complete")
        if not (0 <= token_id < self.vocab_size and self.allowed_tokens(state)[token_id]):
            raise TokenRejected(f"token {token_id} is special, outside the vocabulary or not "
                                f"allowed in state {state}")
        return self._state_of(self._bytes(state) + self.vocabulary.token_bytes[token_id])

    def is_accepting(self, state: int) -> bool:
        text, pending = self._texts[self._state(state)]
        if pending:
            return False
        with self._budget():
            return self._match(text, partial=False)

    def is_finished(self, state: int) -> bool:
        state = self._state(state)
        if not self.is_accepting(state):
            return False
        self.allowed_tokens(state)
        return not self._open[state]

    def _bytes(self, state: int) -> bytes:
        text, pending = self._texts[state]
        return text.encode("utf-8") + pending

    def _state_of(self, data: bytes) -> int:
        """The state whose text is `data` (viable UTF-8, maybe ending inside a character)."""
        sid = self._states.get(data)
        if sid is None:
            with self._lock:
                sid = self._states.get(data)
                if sid is None:
                    self._texts.append(_split_text(data))  # before the id is published
                    sid = self._states[data] = len(self._texts) - 1
        return sid

    def _compute_mask(self, state: int) -> torch.Tensor:
        start, accepting = self._texts[state], self.is_accepting(state)
        found = list(self._viable_nodes(start, self._split_viable))
        if not found and not accepting:
            found = list(islice(self._viable_nodes(start, self._split_viable_exhaustively), 1))
        nodes = np.zeros(self._trie.num_nodes, dtype=bool)
        nodes[found] = True
        allowed = np.zeros(self.vocab_size, dtype=bool)
        # Unusable tokens map to the root, which is never found.
        allowed[: self.vocabulary.size] = nodes[self._trie.token_node]
        self._open[state] = bool(found)
        allowed[self._eos] = accepting
        return shared_mask(allowed)

    def _viable_nodes(self, start: Text, split_viable: Callable[[str, bytes], bool]
                      ) -> Iterator[int]:
        """Trie nodes of the tokens whose bytes, appended to `start` (viable), give viable text,
        depth-first; `split_viable` decides text that ends inside a character."""
        trie = self._trie
        # (node, whole characters, unfinished character, whole characters not yet tested)
        stack: list[tuple[int, str, bytes, bool]] = [(0, start[0], start[1], False)]
        while stack:
            node, text, pending, untested = stack.pop()
            for child in trie.children[node]:
                step = _append_byte(text, pending, trie.byte[child])
                if step is None:
                    continue
                text2, pending2, grew = step
                untested2 = untested or grew
                if untested2 and trie.tested[child]:
                    if not self._partial(text2):
                        continue
                    untested2 = False
                if trie.is_token[child] and (not pending2 or split_viable(text2, pending2)):
                    yield child
                if trie.children[child]:
                    stack.append((child, text2, pending2, untested2))

    def _split_viable(self, whole: str, pending: bytes) -> bool:
        """Whether viable whole characters followed by an unfinished one are viable, by the
        candidates (no memo: one walk meets each such text once)."""
        return any(self._partial(whole + c) for c in self._candidates_of(pending))

    def _split_viable_exhaustively(self, whole: str, pending: bytes) -> bool:
        """`_split_viable` trying every completion the vocabulary spells (up to 262,144)."""
        pieces = self._trie.pieces
        return any(self._partial(whole + c) and _spelled(c.encode("utf-8")[len(pending):], pieces)
                   for c in _completions(pending))

    def _candidates_of(self, pending: bytes) -> list[str]:
        """The candidates of an unfinished character (module docstring) whose remaining bytes
        the vocabulary spells."""
        found = self._candidates.get(pending)
        if found is None:
            named = [c for c in self._named if c.encode("utf-8").startswith(pending)]
            found = self._candidates[pending] = [
                c for c in dict.fromkeys(named + _spread_completions(pending))
                if _spelled(c.encode("utf-8")[len(pending):], self._trie.pieces)]
        return found

    def _partial(self, text: str) -> bool:
        return self._match(text, partial=True)

    @contextlib.contextmanager
    def _budget(self) -> Iterator[None]:
        """Give the outermost public call `MATCH_BUDGET_S` seconds of matching in all."""
        if self._deadline is not None:
            yield
            return
        self._deadline = time.monotonic() + MATCH_BUDGET_S
        try:
            yield
        finally:
            self._deadline = None

    def _match(self, text: str, partial: bool) -> bool:
        """`regex.fullmatch` within the running call's budget; `PatternTooComplex` past it, or
        where the module gives up (its stack overflows: `(?R)` recursion)."""
        left = MATCH_BUDGET_S if self._deadline is None else self._deadline - time.monotonic()
        try:
            if left <= 0:  # many quick calls, each under regex's own timeout check
                raise TimeoutError
            return self._regex.fullmatch(text, partial=partial, timeout=left) is not None
        except TimeoutError:
            raise PatternTooComplex(f"the regex module's matching took over {MATCH_BUDGET_S:g} s "
                                    f"for one guide call", self.pattern, None) from None
        except (MemoryError, RecursionError) as e:
            raise PatternTooComplex(f"the regex module gave up matching ({type(e).__name__})",
                                    self.pattern, None) from None


class _WalkableTrie:
    """A `TokenTrie` as Python lists for node-by-node walks (built once per trie)."""

    def __init__(self, trie: TokenTrie):
        n = trie.num_nodes
        parent = trie.parent[1:].astype(np.int64)
        order = 1 + np.lexsort((trie.node_byte[1:], parent))  # non-root nodes by parent, byte
        ends = np.searchsorted(parent[order - 1], np.arange(n + 1))
        flat = order.tolist()
        bounds = ends.tolist()
        self.children: list[list[int]] = [flat[bounds[i]:bounds[i + 1]] for i in range(n)]
        self.byte: list[int] = trie.node_byte.tolist()
        is_token = np.zeros(n, dtype=bool)
        is_token[trie.token_node[trie.usable_ids]] = True
        self.is_token: list[bool] = is_token.tolist()
        # A node with no token and one child needs no test: the child's test covers it.
        self.tested: list[bool] = (is_token | (np.diff(ends) != 1)).tolist()
        self.token_node = trie.token_node
        self.num_nodes = n
        self.pieces = self._continuation_pieces()

    def _continuation_pieces(self) -> frozenset[bytes]:
        """Tokens of 1 to 3 continuation bytes: the pieces that can finish a character."""
        found = []
        stack = [(child, b"") for child in self.children[0]]
        while stack:
            node, prefix = stack.pop()
            data = prefix + _BYTE[self.byte[node]]
            if not 0x80 <= data[-1] < 0xC0:
                continue
            if self.is_token[node]:
                found.append(data)
            if len(data) < 3:
                stack.extend((child, data) for child in self.children[node])
        return frozenset(found)


_WALKABLE: weakref.WeakKeyDictionary[TokenTrie, _WalkableTrie] = weakref.WeakKeyDictionary()


def _walkable(trie: TokenTrie) -> _WalkableTrie:
    """The walkable form of `trie`, built once per trie object."""
    walkable = _WALKABLE.get(trie)
    if walkable is None:
        with gc_paused():  # ~100k small lists: collections would cost more than building
            walkable = _WALKABLE[trie] = _WalkableTrie(trie)
    return walkable


_ASCII = [chr(b) for b in range(128)]
_BYTE = [bytes([b]) for b in range(256)]


def _append_byte(text: str, pending: bytes, byte: int) -> tuple[str, bytes, bool] | None:
    """(whole characters, unfinished character, whether a character was completed) after one
    more byte, or None if that makes invalid UTF-8."""
    if not pending and byte < 0x80:
        return text + _ASCII[byte], b"", True
    data = pending + _BYTE[byte]
    try:
        return text + data.decode("utf-8"), b"", True
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data":
            return text, data, False
        return None


def _spread_completions(pending: bytes) -> list[str]:
    """The characters that start with `pending` (an unfinished character), vary the byte after
    it and have 0x80 in every later byte: all completions when one byte is missing."""
    fill = b"\x80" * (_encoded_length(pending[0]) - len(pending) - 1)
    return [c for c in (_decoded(pending + _BYTE[b] + fill) for b in range(0x80, 0xC0)) if c]


def _completions(pending: bytes) -> Iterator[str]:
    """Every character that starts with `pending` (an unfinished character), in code order."""
    length = _encoded_length(pending[0])
    code = pending[0] & (0x7F >> length)
    for byte in pending[1:]:
        code = code << 6 | byte & 0x3F
    shift = 6 * (length - len(pending))
    lowest = max(code << shift, _SHORTEST[length])  # a shorter code would be an overlong form
    for c in range(lowest, min((code + 1) << shift, 0x110000)):
        if not 0xD800 <= c <= 0xDFFF:
            yield chr(c)


_SHORTEST = {2: 0x80, 3: 0x800, 4: 0x10000}  # the lowest code point of each UTF-8 length


def _decoded(data: bytes) -> str:
    """`data` decoded, or "" for an overlong form, a surrogate or a code point past U+10FFFF."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _encoded_length(lead: int) -> int:
    """UTF-8 length of a character from its first byte (0xC2..0xF4)."""
    return 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _spelled(rest: bytes, pieces: frozenset[bytes]) -> bool:
    """Whether `rest` (1 to 3 continuation bytes) is a concatenation of `pieces`."""
    return rest in pieces or any(rest[:i] in pieces and _spelled(rest[i:], pieces)
                                 for i in range(1, len(rest)))


def _split_text(data: bytes) -> Text:
    """`data` (valid UTF-8 up to an unfinished last character) as (whole characters, rest)."""
    try:
        return data.decode("utf-8"), b""
    except UnicodeDecodeError as e:
        return data[: e.start].decode("utf-8"), data[e.start:]
