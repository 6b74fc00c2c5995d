"""Regex pattern -> HIR: the regex syntax layer.

Contract: `parse(pattern)` returns the `hir.Node` whose language is the set of strings `s` (of
Unicode scalar values) for which `regex.fullmatch(pattern, s)` matches, with the `regex` module's
default VERSION0 semantics. Captures, group names and laziness are dropped; flags are applied;
anchors (`^ $ \\A \\Z \\z`) are resolved, which is only possible at the start or end of the whole
pattern (`^a|b$`, `(^a|^b)`, `^(?:a|b)$`), so one anywhere else is an `UnsupportedPattern`.

Errors, all `PatternError`s carrying the position (never another exception type, never a hang):
- `PatternSyntaxError`: text that `regex` rejects (or that would crash `regex.compile` itself).
- `UnsupportedPattern`: valid syntax with no finite automaton, or outside this engine: lookaround,
  backreferences, atomic groups, possessive quantifiers, conditionals, word boundaries, `\\G \\K
  \\X \\R`, fuzzy constraints, named lists, recursion and group calls, branch reset, verbs, the
  VERSION1 / REVERSE / LOCALE flags, full case folding (`fi`), ASCII mixed with Unicode, and
  the corners where regex's own reading depends on its optimiser: a case-insensitive
  case-dependent class standing alone, and a case-dependent class or a negated set read
  case-sensitively in a pattern with an alternation and a case-insensitive group.
- `PatternTooComplex`: groups nested deeper than `MAX_NESTING`, a repeat count over
  `MAX_REPEAT`, or text longer than `decoding.limits` `pattern_chars` (checked before parsing).

How: one left-to-right pass that reads the text exactly as `regex`'s own parser does (where
verbose whitespace is skipped, when `{` is a literal, octal escape or backreference, positional and
scoped inline flags, set syntax). It keeps an explicit stack of open groups, so no recursion. Sets
of characters come from `decoding.automaton.charclass`, i.e. from the `regex` module itself.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import regex

from decoding import limits
from decoding.automaton import charclass
from decoding.automaton.charclass import Ranges
from decoding.automaton.hir import Alternation, CharSet, Empty, Node, Repeat, concat
from decoding.errors import PatternSyntaxError, PatternTooComplex, UnsupportedPattern

MAX_NESTING = 200
"""Deepest group nesting accepted (`regex.compile` itself fails a little past 250)."""

MAX_REPEAT = 100_000
"""Largest repeat count accepted in `{n}`, `{n,m}`."""

_A, _I, _L, _M, _S = int(regex.A), int(regex.I), int(regex.L), int(regex.M), int(regex.S)
_U, _X, _W, _F = int(regex.U), int(regex.X), int(regex.W), int(regex.F)
_V0, _V1, _R = int(regex.V0), int(regex.V1), int(regex.R)
_ENCODINGS = _A | _L | _U
_GLOBAL = _V0 | _V1 | int(regex.B) | int(regex.E) | int(regex.P) | _R | int(regex.D)
_INLINE_FLAGS = {
    "a": _A, "b": int(regex.B), "e": int(regex.E), "f": _F, "i": _I, "L": _L, "m": _M,
    "p": int(regex.P), "r": _R, "s": _S, "u": _U, "V0": _V0, "V1": _V1, "w": _W, "x": _X,
}
_KNOWN_FLAGS = sum(set(_INLINE_FLAGS.values())) | int(regex.T) | int(regex.D)
_TOO_BIG = 0xFFFFFFFF  # regex rejects counts from here on ("repeat count too big")

_DIGITS = frozenset("0123456789")
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_STOP = frozenset(")>")
_NAMED_CHAR_PART = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -")
_PROPERTY_NAME_PART = _NAMED_CHAR_PART | frozenset("&_.")
_PROPERTY_VALUE_PART = _NAMED_CHAR_PART | frozenset("&_./")
_CHAR_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
_CLASS_ESCAPES = frozenset("dDhsSwW")
_QUANTIFIERS = {"?": (0, 1), "*": (0, None), "+": (1, None)}
_VERBS = frozenset({"FAIL", "F", "PRUNE", "SKIP"})
_UNSUPPORTED_ESCAPES = {
    "b": "word boundary \\b", "B": "non-word boundary \\B", "m": "start-of-word \\m",
    "M": "end-of-word \\M", "K": "keep-out \\K", "G": "search anchor \\G",
    "X": "grapheme cluster \\X", "R": "line break \\R", "L": "named list \\L<...>",
}

# Runs of characters that stand for themselves (not special), read in one step.
_PLAIN_RUN = re.compile(r"[^\\()|?*+{^$.\[]+")
_PLAIN_RUN_VERBOSE = re.compile(r"[^\\()|?*+{^$.\[#\s]+")
# The rest of a counted repeat `{n}`, `{n,}`, `{,m}`, `{n,m}` (outside verbose mode).
_COUNTS = re.compile(r"([0-9]*)(?:(,)([0-9]*))?\}")
# Whitespace and comments that verbose mode skips (Python's \s is exactly str.isspace).
_VERBOSE_GAP = re.compile(r"(?:\s+|#[^\n]*)*")
_VERBOSE_GAPS = re.compile(r"\s+|#[^\n]*")
# Likely text of a whole set, used only as a cache key (a hit was fully parsed before).
_SET_TEXT = re.compile(r"\[\^?\]?(?:\[:\^?[^\]]*:\]|\\.|[^\]\\])*\]", re.DOTALL)

_ITEM, _START, _QUANTIFIED = 0, 1, 2  # what a quantifier would apply to (cf. regex's None marker)

_set_cache: dict[tuple[str, int, bool], tuple[Ranges, bool, bool]] = {}
_SET_CACHE_SIZE = 4096


class _Reader:
    """A position in the pattern text; in verbose mode whitespace and `#` comments are skipped
    before each read (exactly where `regex` skips them), unless the read is raw."""

    __slots__ = ("text", "pos", "verbose")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.verbose = False

    def skip(self) -> None:
        if self.verbose:
            self.pos = _VERBOSE_GAP.match(self.text, self.pos).end()

    def get(self, raw: bool = False) -> str:
        """The next character ("" at the end), consumed."""
        if not raw:
            self.skip()
        pos = self.pos
        if pos >= len(self.text):
            return ""
        self.pos = pos + 1
        return self.text[pos]

    def peek(self) -> str:
        saved = self.pos
        ch = self.get()
        self.pos = saved
        return ch

    def take(self, expected: str) -> bool:
        """Consume `expected` if it comes next (verbose gaps allowed before each character)."""
        saved = self.pos
        for ch in expected:
            if self.get() != ch:
                self.pos = saved
                return False
        return True

    def take_while(self, chars: frozenset[str], stop: bool = False, raw: bool = False) -> str:
        """The longest run of characters in `chars` (not in `chars` when `stop`), consumed."""
        out = []
        while True:
            if not raw:
                self.skip()
            pos = self.pos
            if pos >= len(self.text) or (self.text[pos] in chars) == stop:
                return "".join(out)
            out.append(self.text[pos])
            self.pos = pos + 1


class _Frame:
    """An open group (or the whole pattern) and its current alternative."""

    __slots__ = ("open_pos", "saved_flags", "consumed_before", "group_number", "branches",
                 "items", "last", "last_anchor", "last_consuming", "first_anchor", "consumed",
                 "any_consumed", "pending_end", "group_pending_end", "last_set", "lone_chars")

    def __init__(self, open_pos: int, saved_flags: int, consumed_before: bool,
                 group_number: int | None = None) -> None:
        self.open_pos = open_pos
        self.saved_flags = saved_flags  # flags to restore when the group closes
        self.consumed_before = consumed_before  # something consuming text precedes the group
        self.group_number = group_number  # capture group number, if capturing
        self.branches: list[Node] = []  # finished alternatives
        self.items: list[Node] = []  # the current alternative
        self.last = _START  # what a quantifier would apply to
        self.last_anchor: int | None = None  # position of an anchor inside the last item
        self.last_consuming = False  # the last item may consume text
        self.first_anchor: int | None = None  # position of the first anchor in the group
        self.consumed = False  # the current alternative has an item that consumes text
        self.any_consumed = False  # so had an earlier alternative
        self.pending_end: int | None = None  # end anchor that nothing consuming may follow
        self.group_pending_end: int | None = None  # the same, from earlier alternatives
        # the last set `[...]`: (its node, ranges, position if read case-insensitively with a
        # class member, else None), or (node, None, None) for a dot or class escape, which regex
        # does not merge with sets; see `_Parser.complementary_classes`
        self.last_set: tuple[Node, Ranges | None, int | None] | None = None
        # alternatives that are one set or one literal character: (ranges, position or None)
        self.lone_chars: list[tuple[Ranges, int | None]] = []


class _BadFuzzy(Exception):
    """Internal: a fuzzy constraint that regex rejects (so still no literal `{`)."""


class _NotFuzzy(Exception):
    """Internal: the `{` is an ordinary literal."""


class _Parser:
    """One pass over the pattern text; `run()` returns the HIR."""

    def __init__(self, text: str, flags: int, ascii_pattern: bool) -> None:
        self.text = text
        self.reader = _Reader(text)
        self.flags = flags
        self.reader.verbose = bool(flags & _X)
        self.ascii = ascii_pattern  # pattern-level encoding is ASCII (else Unicode)
        self.encoding_items: dict[int, int] = {}  # encoding flag -> first class item under it
        self.encoding_flag_pos: int | None = None  # last top-level inline encoding flag
        self.touched = 0  # flags changed by top-level inline flags after the first item
        self.frames = [_Frame(open_pos=0, saved_flags=flags, consumed_before=False)]
        self.group_count = 0
        self.group_names: dict[str, int] = {}
        self.open_groups: list[int] = []
        # See `check_case_scopes`: the classes read case-sensitively (text, characters,
        # position), the first item read case-insensitively, and whether any alternation was seen.
        self.case_sensitive_classes: list[tuple[str, Ranges, int]] = []
        self.folded_pos: int | None = None
        self.alternation = False

    # ----------------------------------------------------------------------------------- errors

    def syntax_error(self, message: str, pos: int) -> PatternSyntaxError:
        return PatternSyntaxError(message, self.text, pos)

    def unsupported(self, construct: str, pos: int) -> UnsupportedPattern:
        return UnsupportedPattern(f"{construct} is not supported", self.text, pos)

    def anchor_error(self, pos: int) -> UnsupportedPattern:
        anchor = self.text[pos: pos + 2] if self.text[pos] == "\\" else self.text[pos]
        return UnsupportedPattern(
            f"anchor {anchor!r} is only supported at the start or end of the whole pattern",
            self.text, pos)

    # ------------------------------------------------------------------------------ main loop

    def run(self) -> Node:
        text, reader = self.text, self.reader
        while True:
            if reader.verbose:
                reader.skip()
            pos = reader.pos
            run = (_PLAIN_RUN_VERBOSE if reader.verbose else _PLAIN_RUN).match(text, pos)
            if run:
                self.push_literals(run.group())
                reader.pos = run.end()
                continue
            if pos >= len(text):
                if len(self.frames) > 1:
                    raise self.syntax_error("missing ), unterminated subpattern",
                                            self.frames[-1].open_pos)
                node = self.close_alternatives(self.frames[0])
                self.check_case_scopes()
                return node
            ch = text[pos]
            reader.pos = pos + 1
            if ch == ")":
                if len(self.frames) == 1:
                    raise self.syntax_error("unbalanced parenthesis", pos)
                self.close_group()
            elif ch == "|":
                self.end_alternative(self.frames[-1])
            elif ch == "\\":
                self.escape_item(pos)
            elif ch == "(":
                self.paren(pos)
            elif ch == "[":
                ranges, folded_classes = self.parse_set(pos)
                node = self.charset(ranges)
                self.push(node, consuming=True)
                self.frames[-1].last_set = (node, ranges, pos if folded_classes else None)
            elif ch == ".":
                dot_flags = "s" if self.flags & _S else "w" if self.flags & _W else ""
                node = self.charset(charclass.regex_class(".", dot_flags))
                self.push(node, consuming=True)
                self.frames[-1].last_set = (node, None, None)  # not merged with sets by regex
            elif ch == "^":
                self.start_anchor(pos)
            elif ch == "$":
                self.end_anchor(pos)
            else:  # ? * + {
                self.quantifier(ch, pos)

    # -------------------------------------------------------------------------------- items

    def charset(self, ranges: Ranges) -> CharSet:
        if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            return _char_node(ranges[0][0], 0)
        return CharSet(ranges)

    def case_mode(self, pos: int) -> int:
        """0: case-sensitive; 1: case-insensitive (Unicode); 2: case-insensitive (ASCII)."""
        flags = self.flags
        if not flags & _I:
            return 0
        if flags & _F and not flags & _A:
            raise self.unsupported("full case folding (flags f and i together)", pos)
        if self.folded_pos is None:
            self.folded_pos = pos
        return 2 if self.ascii else 1

    def note_case_sensitive_class(self, item: str, ranges: Ranges, pos: int) -> None:
        """Record a class read case-sensitively (checked by `check_case_scopes`)."""
        self.case_sensitive_classes.append((item, ranges, pos))

    def check_case_scopes(self) -> None:
        """Some regex releases (2026.5.9; not 2026.12.2) read a case-dependent class
        (`[^\\p{Lu}]`, `\\P{Lu}`) case-insensitively when a case-insensitive group sits in
        another branch of an alternation (`[^\\p{Lu}]a|(?i:b)` then rejects "ſa"); 2026.5.9
        does the same to negated sets of several members (`[^A-Z0-9]x|(?i:b)` rejects "ax",
        `[^ak-s]x|(?i:b)` rejects "Kx"). Such readings depend on the release and the optimiser,
        so these patterns are refused, more broadly: a class or negated set that case folding
        changes, read case-sensitively, any case-insensitive item and any alternation in one
        pattern."""
        if self.folded_pos is None or not self.alternation:
            return
        for item, ranges, pos in self.case_sensitive_classes:
            if ranges != self.class_set(item, pos, fold=True):
                raise self.unsupported("a case-dependent class or negated set (like \\p{Lu} "
                                       "or [^A-Z0-9]) read case-sensitively, with a "
                                       "case-insensitive group and an alternation", pos)

    def push(self, node: Node, consuming: bool, anchor: int | None = None) -> None:
        frame = self.frames[-1]
        if consuming:
            if frame.pending_end is not None:
                raise self.anchor_error(frame.pending_end)
            frame.consumed = True
        frame.items.append(node)
        frame.last = _ITEM
        frame.last_anchor = anchor
        frame.last_consuming = consuming
        if anchor is not None and frame.first_anchor is None:
            frame.first_anchor = anchor

    def push_literals(self, chars: str) -> None:
        frame = self.frames[-1]
        if frame.pending_end is not None:
            raise self.anchor_error(frame.pending_end)
        frame.items.extend(map(_CHAR_NODES[self.case_mode(self.reader.pos)].__getitem__, chars))
        frame.consumed = True
        frame.last = _ITEM
        frame.last_anchor = None
        frame.last_consuming = True

    def push_char(self, code_point: int, pos: int) -> None:
        self.push(_char_node(code_point, self.case_mode(pos)), consuming=True)

    def start_anchor(self, pos: int) -> None:
        frame = self.frames[-1]
        if frame.consumed_before or frame.consumed:
            raise self.anchor_error(pos)
        self.push(Empty(), consuming=False, anchor=pos)

    def end_anchor(self, pos: int) -> None:
        self.push(Empty(), consuming=False, anchor=pos)
        frame = self.frames[-1]
        if frame.pending_end is None:
            frame.pending_end = pos

    def class_set(self, item: str, pos: int, fold: bool) -> Ranges:
        """The characters the one-character pattern `item` (a class escape, property or set,
        not verbose) matches in this pattern's context, read off the regex module."""
        self.note_encoding(pos)
        flags = ("i" if fold else "") + ("a" if self.ascii else "")
        try:
            return charclass.regex_class(item, flags)
        except regex.error as exc:
            raise self.syntax_error(exc.msg, pos) from None

    # ----------------------------------------------------------------------- groups and flags

    def paren(self, pos: int) -> None:
        reader = self.reader
        after_paren = reader.pos
        if self.text.startswith("?:", after_paren):  # fast path for the commonest group
            reader.pos += 2
            self.open_group(pos, None, flags=self.flags & ~_ENCODINGS)
            return
        ch = reader.get(raw=True)
        if ch == "?":
            after_question = reader.pos
            ch = reader.get(raw=True)
            if ch == "<":
                after_angle = reader.pos
                if reader.get() in ("=", "!"):
                    raise self.unsupported("lookbehind (?<=...) / (?<!...)", pos)
                reader.pos = after_angle
                self.open_group(pos, self.group_name())
            elif ch in ("=", "!"):
                raise self.unsupported("lookahead (?=...) / (?!...)", pos)
            elif ch == "P":
                ch = reader.get()
                if ch == "<":
                    self.open_group(pos, self.group_name())
                elif ch == "=":
                    raise self.unsupported("backreference (?P=name)", pos)
                elif ch in (">", "&"):
                    raise self.unsupported("group call (?P>name)", pos)
                else:
                    raise self.syntax_error("unknown extension (?P", pos)
            elif ch == "#":
                self.comment(pos)
            elif ch == "(":
                raise self.unsupported("conditional group (?(...)...)", pos)
            elif ch == ">":
                raise self.unsupported("atomic group (?>...)", pos)
            elif ch == "|":
                raise self.unsupported("branch reset group (?|...)", pos)
            elif ch == "R" or ch in _DIGITS or ch == "&" or (
                    ch in ("+", "-") and reader.peek() in _DIGITS):
                raise self.unsupported("recursion or group call (?R) (?1) (?&name)", pos)
            else:
                reader.pos = after_question
                self.inline_flags(pos)
            return
        if ch == "*":
            word = reader.take_while(_NAME_STOP, stop=True)
            if word[:1].isalpha():
                if word in _VERBS:
                    raise self.unsupported(f"backtracking verb (*{word})", pos)
                raise self.syntax_error("unknown verb", pos)
        reader.pos = after_paren
        self.open_group(pos, None, number=self.new_group_number(None))

    def group_name(self) -> str:
        """Read `name>` of a named group."""
        reader = self.reader
        start = reader.pos
        name = reader.take_while(_NAME_STOP, stop=True)
        if not name:
            raise self.syntax_error("missing group name", start)
        if name.isdigit() or not name.isidentifier():
            raise self.syntax_error("bad character in group name", start)
        if not reader.take(">"):
            raise self.syntax_error("missing >", reader.pos)
        return name

    def new_group_number(self, name: str | None) -> int:
        if name is not None and name in self.group_names:
            return self.group_names[name]
        self.group_count += 1
        if name is not None:
            self.group_names[name] = self.group_count
        return self.group_count

    def open_group(self, pos: int, name: str | None, number: int | None = None,
                   flags: int | None = None) -> None:
        if len(self.frames) > MAX_NESTING:
            raise PatternTooComplex(f"groups nested deeper than {MAX_NESTING}", self.text, pos)
        if name is not None:
            number = self.new_group_number(name)
        parent = self.frames[-1]
        frame = _Frame(open_pos=pos, saved_flags=self.flags,
                       consumed_before=parent.consumed_before or parent.consumed,
                       group_number=number)
        self.frames.append(frame)
        if number is not None:
            self.open_groups.append(number)
        if flags is not None:
            self.set_flags(flags)

    def close_group(self) -> None:
        frame = self.frames.pop()
        if frame.group_number is not None:
            self.open_groups.pop()
        node = self.close_alternatives(frame)
        self.set_flags(frame.saved_flags)
        pending = frame.group_pending_end
        if pending is None:
            pending = frame.pending_end
        self.push(node, consuming=frame.any_consumed or frame.consumed, anchor=frame.first_anchor)
        parent = self.frames[-1]
        if pending is not None and parent.pending_end is None:
            parent.pending_end = pending
        if frame.group_number is None:  # (?:...) of such sets alone counts as one
            last_set = frame.last_set
            if not frame.branches and last_set is not None and frame.items == [last_set[0]]:
                parent.last_set = (node, last_set[1], last_set[2])
            elif frame.branches and len(frame.lone_chars) == len(frame.branches):
                ranges, sets = _merged(frame.lone_chars)
                if sets:
                    parent.last_set = (node, ranges, sets[0])

    def note_merge_sensitive(self, pos: int) -> None:
        """A case-insensitive class standing alone (`(?i)\\p{Lu}`, `(?i)[\\p{Lu}]`) that
        matches other characters than it does as a member of a larger set. regex reads it one
        way or the other by its context (alone: "ĸ" matches `(?i)\\p{Lu}`; after an optional
        item, as in a set: "ĸ" fails `(?i)x?\\p{Lu}`; in an alternation its optimiser merges
        single characters into one set), so such a pattern is refused."""
        raise self.unsupported("a case-insensitive case-dependent class (like (?i)\\p{Lu}), "
                               "which regex reads by its context", pos)

    def end_alternative(self, frame: _Frame) -> None:
        self.alternation = True
        last_set = frame.last_set
        if len(frame.items) == 1 and isinstance(frame.items[0], CharSet):
            if last_set is None or frame.items[0] is not last_set[0]:  # a literal character
                frame.lone_chars.append((frame.items[0].ranges, None))
            elif last_set[1] is not None:
                frame.lone_chars.append((last_set[1], last_set[2]))
        frame.last_set = None
        frame.branches.append(concat(frame.items))
        frame.items = []
        frame.any_consumed = frame.any_consumed or frame.consumed
        frame.consumed = False
        frame.last = _START
        frame.last_anchor = None
        if frame.group_pending_end is None:
            frame.group_pending_end = frame.pending_end
        frame.pending_end = None

    def close_alternatives(self, frame: _Frame) -> Node:
        if not frame.branches:
            return concat(frame.items)
        self.end_alternative(frame)
        ranges, sets = _merged(frame.lone_chars)
        if len(sets) > 1 and not charclass.complement(ranges) \
                and all(charclass.complement(r) for r, _ in frame.lone_chars):
            raise self.complementary_classes(sets[0], alternatives=True)
        return _alternation(frame.branches)

    def set_flags(self, flags: int) -> None:
        self.flags = flags
        self.reader.verbose = bool(flags & _X)

    def comment(self, pos: int) -> None:
        reader = self.reader
        while True:
            ch = reader.get(raw=True)
            if ch == ")":
                return
            if not ch:
                raise self.syntax_error("missing ), unterminated comment", pos)
            if ch == "\\":
                reader.get(raw=True)

    def flag_letters(self) -> int:
        reader = self.reader
        flags = 0
        while True:
            saved = reader.pos
            ch = reader.get()
            if ch == "V":
                ch += reader.get()
            bit = _INLINE_FLAGS.get(ch)
            if bit is None:
                reader.pos = saved
                return flags
            flags |= bit

    def inline_flags(self, pos: int) -> None:
        reader = self.reader
        on = self.flag_letters()
        off = 0
        if reader.take("-"):
            off = self.flag_letters()
            if not off:
                raise self.syntax_error("bad inline flags: no flags after '-'", reader.pos)
        if off & _GLOBAL:
            raise self.syntax_error("bad inline flags: cannot turn off global flag", reader.pos)
        if on & off:
            raise self.syntax_error("bad inline flags: flag turned on and off", reader.pos)
        _check_global_flags(on, self.text, pos)
        if on & _L:
            raise self.unsupported("the LOCALE flag (?L)", pos)
        on &= ~_GLOBAL
        if reader.take(":"):
            flags = (self.flags | on) & ~off
            if flags & _ENCODINGS:
                flags = (flags & ~_ENCODINGS) | (on & _ENCODINGS)
            self.open_group(pos, None, flags=flags)
        elif reader.take(")"):
            root = self.frames[0]
            if len(self.frames) == 1:
                if root.items or root.branches:
                    self.touched |= on | off
                if on & _ENCODINGS:
                    self.encoding_flag_pos = pos
            self.set_flags((self.flags | on) & ~off)
        else:
            raise self.syntax_error("unknown extension", reader.pos)

    # ---------------------------------------------------------------------------- quantifiers

    def quantifier(self, ch: str, pos: int) -> None:
        reader = self.reader
        if ch == "{":
            counts = self.counted_repeat(pos)
            if counts is None:
                if self.fuzzy_ahead():
                    raise self.unsupported("fuzzy matching constraint {...}", pos)
                self.push_char(ord("{"), pos)
                return
        else:
            counts = _QUANTIFIERS[ch]
        frame = self.frames[-1]
        if frame.last == _START:
            raise self.syntax_error("nothing to repeat", pos)
        if frame.last == _QUANTIFIED:
            raise self.syntax_error("multiple repeat", pos)
        saved = reader.pos
        suffix = reader.get()
        if suffix == "+":
            raise self.unsupported("possessive quantifier", pos)
        if suffix != "?":
            reader.pos = saved
        low, high = counts
        if low > MAX_REPEAT or (high is not None and high > MAX_REPEAT):
            raise PatternTooComplex(f"repeat count above {MAX_REPEAT}", self.text, pos)
        if frame.last_anchor is not None and frame.last_consuming and (high is None or high > 1):
            # A later repetition would test the anchor after some text; repeating an anchor
            # alone (`^*`) is harmless.
            raise self.anchor_error(frame.last_anchor)
        frame.items.append(_repeat(frame.items.pop(), low, high, pos))
        frame.last = _QUANTIFIED

    def counted_repeat(self, pos: int) -> tuple[int, int | None] | None:
        """After `{`: the counts of `{n}`, `{n,}`, `{,m}`, `{n,m}`, or None (position restored)
        when this `{` does not start a counted repeat."""
        reader = self.reader
        if not reader.verbose:  # fast path, same reading
            counts = _COUNTS.match(self.text, reader.pos)
            if not counts or (counts.group(2) is None and not counts.group(1)):
                return None
            reader.pos = counts.end()
            low_text, high_text = counts.group(1), counts.group(3)
            if counts.group(2) is None:
                high_text = low_text
        else:
            saved = reader.pos
            low_text = reader.take_while(_DIGITS)
            if reader.take(","):
                high_text = reader.take_while(_DIGITS)
            elif low_text:
                high_text = low_text
            else:
                reader.pos = saved
                return None
            if not reader.take("}"):
                reader.pos = saved
                return None
        if len(low_text.lstrip("0")) > 10 or len(high_text.lstrip("0")) > 10:
            raise self.syntax_error("repeat count too big", pos)
        low = int(low_text or 0)
        high = int(high_text) if high_text else None
        if low >= _TOO_BIG or (high is not None and high >= _TOO_BIG):
            raise self.syntax_error("repeat count too big", pos)
        if high is not None and low > high:
            raise self.syntax_error("min repeat greater than max repeat", pos)
        return low, high

    def fuzzy_ahead(self) -> bool:
        """After a `{` that is no counted repeat: whether `regex` reads a fuzzy constraint
        (`{e<=1}`, `{1<=s<3, 2i+d<4}`...) here, rather than a literal `{`."""
        reader = self.reader
        saved = reader.pos
        seen: set[str] = set()
        try:
            self.fuzzy_item(seen)
            while reader.take(","):
                self.fuzzy_item(seen)
        except _NotFuzzy:
            return False
        except _BadFuzzy:
            return True
        finally:
            reader.pos = saved
        return True

    def fuzzy_item(self, seen: set[str]) -> None:
        reader = self.reader
        saved = reader.pos
        try:
            self.fuzzy_constraint(seen)
        except _NotFuzzy:
            reader.pos = saved
            self.fuzzy_cost_equation(seen)

    def fuzzy_compare(self) -> str | None:
        return "<=" if self.reader.take("<=") else "<" if self.reader.take("<") else None

    def fuzzy_constraint(self, seen: set[str]) -> None:
        reader = self.reader
        saved = reader.pos
        ch = reader.get()
        if ch and ch in _ASCII_LETTERS:
            if ch not in "deis" or ch in seen:
                raise _NotFuzzy
            if self.fuzzy_compare() is not None and not reader.take_while(_DIGITS):
                raise _BadFuzzy  # bad fuzzy cost limit
        elif ch and ch in _DIGITS:
            reader.pos = saved
            reader.take_while(_DIGITS)
            if self.fuzzy_compare() is None:
                raise _NotFuzzy
            ch = reader.get()
            if not ch or ch not in "deis" or ch in seen or self.fuzzy_compare() is None:
                raise _NotFuzzy
            if not reader.take_while(_DIGITS):
                raise _BadFuzzy
        else:
            raise _NotFuzzy
        seen.add(ch)

    def fuzzy_cost_equation(self, seen: set[str]) -> None:
        reader = self.reader
        if "cost" in seen:
            raise _BadFuzzy
        terms: set[str] = set()
        while True:
            reader.take_while(_DIGITS)
            ch = reader.get()
            if not ch or ch not in "dis":
                raise _NotFuzzy
            if ch in terms:
                raise _BadFuzzy
            terms.add(ch)
            if not reader.take("+"):
                break
        if self.fuzzy_compare() is None:
            raise _NotFuzzy
        if not reader.take_while(_DIGITS):
            raise _BadFuzzy  # regex itself crashes on a missing cost limit here
        seen.add("cost")

    # -------------------------------------------------------------------------------- escapes

    def escape_item(self, pos: int) -> None:
        """An escape outside a set, the backslash at `pos`."""
        kind, value = self.escape(pos, in_set=False)
        if kind == "char":
            self.push_char(value, pos)
        elif kind == "class":
            fold = bool(self.case_mode(pos))
            ranges = self.class_set(value, pos, fold=fold)
            if fold and ranges != self.class_set(f"[{value}{value}]", pos, fold=True):
                self.note_merge_sensitive(pos)
            if not fold:
                self.note_case_sensitive_class(value, ranges, pos)
            node = self.charset(ranges)
            self.push(node, consuming=True)
            self.frames[-1].last_set = (node, None, None)  # not merged with sets by regex
        elif kind == "start":
            self.start_anchor(pos)
        else:
            self.end_anchor(pos)

    def escape(self, pos: int, in_set: bool) -> tuple[str, object]:
        """After a backslash at `pos`: ("char", code point), ("class", item text) or, outside
        sets, ("start", None) / ("end", None) for anchors."""
        reader = self.reader
        ch = reader.get(raw=True)
        if not ch:
            raise self.syntax_error("bad escape (end of pattern)", pos)
        if ch in "xuU":
            return "char", self.hex_escape(pos, ch)
        if ch == "N":
            return "char", self.named_char(pos)
        if ch in "pP":
            return self.property_escape(pos)
        if not in_set:
            if ch == "g":
                return self.group_reference(pos)
            if ch == "A":
                return "start", None
            if ch in "Zz":
                return "end", None
            if ch in _UNSUPPORTED_ESCAPES:
                raise self.unsupported(_UNSUPPORTED_ESCAPES[ch], pos)
        if ch in _ASCII_LETTERS:
            if ch in _CLASS_ESCAPES:
                return "class", "\\" + ch
            if ch in _CHAR_ESCAPES:
                return "char", _CHAR_ESCAPES[ch]
            raise self.syntax_error(f"bad escape \\{ch}", pos)
        if ch in _DIGITS:
            return "char", self.numeric_escape(pos, ch, in_set)
        return "char", ord(ch)

    def hex_escape(self, pos: int, letter: str) -> int:
        reader = self.reader
        digits = ""
        for _ in range({"x": 2, "u": 4, "U": 8}[letter]):
            ch = reader.get()
            if not ch or ch not in _HEX:
                raise self.syntax_error(f"incomplete escape \\{letter}{digits}", pos)
            digits += ch
        value = int(digits, 16)
        if value > charclass.MAX_CODE_POINT:
            raise self.syntax_error(f"bad hex escape \\{letter}{digits}", pos)
        return value

    def named_char(self, pos: int) -> int:
        reader = self.reader
        saved = reader.pos
        if reader.take("{"):
            name = reader.take_while(_NAMED_CHAR_PART, raw=True)
            if reader.take("}"):
                try:
                    value = unicodedata.lookup(name)
                except KeyError:
                    value = ""
                if len(value) != 1:
                    raise self.syntax_error(f"undefined character name {name!r}", pos)
                return ord(value)
        reader.pos = saved
        return ord("N")

    def property_escape(self, pos: int) -> tuple[str, object]:
        reader = self.reader
        saved = reader.pos
        ch = reader.get()
        if ch == "{":
            _skip_property(reader)
            if reader.take("}"):
                return "class", self.verbatim(pos)
        elif ch and ch in "CLMNPSZ":
            return "class", self.verbatim(pos)
        reader.pos = saved
        return "char", ord(self.text[pos + 1])

    def verbatim(self, pos: int) -> str:
        """The text read since `pos`, without the whitespace and comments verbose mode skipped."""
        text = self.text[pos: self.reader.pos]
        return _VERBOSE_GAPS.sub("", text) if self.reader.verbose else text

    def numeric_escape(self, pos: int, first: str, in_set: bool) -> int:
        reader = self.reader
        if in_set or first == "0":
            digits = first
            while len(digits) < 3:
                saved = reader.pos
                ch = reader.get()
                if not ch or ch not in _OCTAL:
                    reader.pos = saved
                    break
                digits += ch
            if digits[0] not in _OCTAL:
                raise self.syntax_error(f"bad escape \\{digits[0]}", pos)
            return int(digits, 8)
        digits = first
        saved = reader.pos
        ch = reader.get()
        if ch and ch in _DIGITS:
            digits += ch
            saved = reader.pos
            ch = reader.get()
            if ch and ch in _OCTAL and all(d in _OCTAL for d in digits):
                encoding = self.flags & _ENCODINGS
                return int(digits + ch, 8) & (0xFF if encoding in (_A, _L) else 0x1FF)
        reader.pos = saved
        if int(digits) in self.open_groups:
            raise self.syntax_error("cannot refer to an open group", pos)
        raise self.unsupported(f"backreference \\{digits}", pos)

    def group_reference(self, pos: int) -> tuple[str, object]:
        """After `\\g`: a backreference `\\g<name>` (unsupported), else regex reads a literal g."""
        reader = self.reader
        saved = reader.pos
        if reader.take("<"):
            name = reader.take_while(_NAME_STOP, stop=True)
            if name.isdigit():
                try:
                    number = int(name)
                except ValueError:  # '²', or too many digits: regex crashes here
                    raise self.syntax_error(f"bad group name {name[:20]!r}", pos) from None
                valid = number >= 1
            else:
                number = self.group_names.get(name)
                valid = name.isidentifier()
            if valid and reader.take(">"):
                if number not in self.open_groups:
                    raise self.unsupported(f"backreference \\g<{name}>", pos)
        reader.pos = saved
        return "char", ord("g")

    # ------------------------------------------------------------------------------------ sets

    def parse_set(self, pos: int) -> tuple[Ranges, bool]:
        """A set `[...]`, the `[` at `pos`: its characters with case folding applied, and whether
        it was read case-insensitively with a class member."""
        mode = self.case_mode(pos)
        reader = self.reader
        verbose, reader.verbose = reader.verbose, False
        try:
            candidate = _SET_TEXT.match(self.text, pos)
            key = (candidate.group() if candidate else "", mode, self.ascii)
            cached = _set_cache.get(key)
            if cached is None:
                cached = self.set_body(pos, mode)
                if len(_set_cache) >= _SET_CACHE_SIZE:
                    _set_cache.clear()
                _set_cache[(self.text[pos: reader.pos], mode, self.ascii)] = cached
            else:
                reader.pos = pos + len(key[0])
        finally:
            reader.verbose = verbose
        ranges, has_classes, merge_sensitive = cached
        if has_classes:
            self.note_encoding(pos)
        if not mode and (has_classes or self.text.startswith("[^", pos)):
            self.note_case_sensitive_class(self.text[pos: reader.pos], ranges, pos)
        if merge_sensitive:
            self.note_merge_sensitive(pos)
        return ranges, bool(mode) and has_classes

    def note_encoding(self, pos: int) -> None:
        """Record the encoding flags a class item is read under (see `_parse_text`)."""
        encoding = self.flags & _ENCODINGS
        if encoding == _A | _U:
            raise self.unsupported("ASCII and Unicode flags together", pos)
        self.encoding_items.setdefault(encoding, pos)

    def set_body(self, pos: int, mode: int) -> tuple[Ranges, bool, bool]:
        """The members after `[` up to `]`: their characters, whether any is a class, and
        whether the set is merge-sensitive (see `note_merge_sensitive`).

        Case-insensitively (regex VERSION0), a member character or range matches its case
        variants, a class member (`\\w`, `\\p{..}`, `[:alpha:]`) matches as regex reads it in a
        set of several members, and a set of one class member is that class standing alone.
        """
        reader = self.reader
        text = self.text
        negate = reader.take("^")
        chars: list[tuple[int, int]] = []
        classes: list[tuple[str, int]] = []  # (text, position)
        first = True
        while first or not reader.take("]"):
            first = False
            start = reader.pos
            kind, value = self.set_item(pos)
            if kind == "char" and text.startswith("-", reader.pos):
                reader.pos += 1
                if text.startswith("]", reader.pos):
                    chars += [(value, value), (45, 45)]
                    continue
                end_start = reader.pos
                end_kind, end = self.set_item(pos)
                if end_kind != "char":
                    chars += [(value, value), (45, 45)]
                    classes.append((end, end_start))
                    continue
                if value > end:
                    raise self.syntax_error("bad character range", reader.pos - 1)
                chars.append((value, end))
            elif kind == "char":
                chars.append((value, value))
            else:
                classes.append((value, start))
        if mode and len(classes) == 1 and not chars:
            alone = self.class_set(text[pos: reader.pos], pos, fold=True)
            item = classes[0][0]
            merged = self.class_set(f"[{'^' if negate else ''}{item}{item}]", pos, fold=True)
            return alone, True, alone != merged
        ranges = charclass.normalize(chars)
        if mode:
            ranges = charclass.case_closure(ranges, ascii_only=mode == 2)
        # Case-insensitively, `[XX]` is X's share of a set of several members.
        member_sets = [
            self.class_set(f"[{item}{item}]" if mode else f"[{item}]", at, fold=bool(mode))
            for item, at in classes]
        ranges = charclass.union(ranges, *member_sets)
        if negate:
            ranges = charclass.complement(ranges)
            if not ranges and len(classes) > 1:
                raise self.complementary_classes(pos)
        return ranges, bool(classes), False

    def complementary_classes(self, pos: int, alternatives: bool = False) -> UnsupportedPattern:
        """A negated set of several classes that together cover every character, like
        `[^\\d\\D]`: `regex` releases disagree on its language (2024.11 matches nothing, 2025.7
        fails to compile it, 2025.10 and later match any character, and before 2026.12 the
        case-insensitive form crashes), so it is refused whatever release is installed. So are
        one-character alternatives, two or more of them case-insensitive sets with a class
        member, that cover every character together though none does alone
        (`(?i)(?:[\\d]|[\\D])`, `(?i)(?:(?:[\\d]|x)|[\\D])`: regex 2026.5.9 merges them into one
        set and crashes; `(?i)[\\s\\S]|[\\d]` compiles)."""
        what = ("case-insensitive one-character alternatives whose sets and classes cover "
                "every character" if alternatives
                else "a negated set whose classes cover every character")
        return UnsupportedPattern(
            f"{what} (regex releases disagree on what it matches; write (?s). for any character "
            "or (?!) for none)", self.text, pos)

    def set_item(self, set_pos: int) -> tuple[str, object]:
        """One member of a set: ("char", code point) or ("class", its text)."""
        reader = self.reader
        text = self.text
        start = reader.pos
        if text.startswith("\\", start):
            reader.pos += 1
            return self.escape(start, in_set=True)
        if text.startswith("[:", start):
            reader.pos += 2
            _skip_property(reader)
            if reader.take(":]"):
                return "class", text[start: reader.pos]
            reader.pos = start
        ch = reader.get(raw=True)
        if not ch:
            raise self.syntax_error("unterminated character set", set_pos)
        return "char", ord(ch)


# ---------------------------------------------------------------------------------- HIR helpers


class _CharNodes(dict):
    """Character -> the shared node matching it, under one case mode (see `case_mode`)."""

    def __init__(self, case_mode: int) -> None:
        super().__init__()
        self.case_mode = case_mode

    def __missing__(self, char: str) -> CharSet:
        if len(self) >= _CHAR_NODES_SIZE:
            self.clear()
        ranges = charclass.from_code_points((ord(char),))
        if self.case_mode:
            ranges = charclass.case_closure(ranges, ascii_only=self.case_mode == 2)
        node = self[char] = CharSet(ranges)
        return node


_CHAR_NODES_SIZE = 1 << 16
_CHAR_NODES = (_CharNodes(0), _CharNodes(1), _CharNodes(2))


def _skip_property(reader) -> None:
    """Move past a property name (`^` negation, name, optional `:value` / `=value`), as the regex
    module reads one inside `\\p{...}` and `[:...:]`."""
    reader.take("^")
    reader.take_while(_PROPERTY_NAME_PART)
    after_name = reader.pos
    if reader.get() in (":", "=") and reader.take_while(_PROPERTY_VALUE_PART).strip():
        after_name = reader.pos
    reader.pos = after_name


def _merged(lone: list[tuple[Ranges, int | None]]) -> tuple[Ranges, list[int]]:
    """One-character alternatives (`_Frame.lone_chars`) as regex merges them: their characters
    together, and the positions of those that are case-insensitive sets with a class member."""
    return (charclass.union(*(ranges for ranges, _ in lone)),
            [pos for _, pos in lone if pos is not None])


def _char_node(code_point: int, case_mode: int) -> CharSet:
    """The shared node for one literal character under a case mode."""
    return _CHAR_NODES[case_mode][chr(code_point)]


def _alternation(branches: list[Node]) -> Node:
    flat: list[Node] = []
    sets: list[Ranges] = []
    set_index = None
    has_empty = False
    for branch in branches:
        for item in branch.items if isinstance(branch, Alternation) else (branch,):
            if isinstance(item, CharSet):
                if set_index is None:
                    set_index = len(flat)
                    flat.append(item)
                sets.append(item.ranges)
            elif isinstance(item, Empty):
                if not has_empty:
                    has_empty = True
                    flat.append(item)
            else:
                flat.append(item)
    if set_index is not None and len(sets) > 1:
        flat[set_index] = CharSet(charclass.union(*sets))
    return flat[0] if len(flat) == 1 else Alternation(tuple(flat))


def _repeat(node: Node, low: int, high: int | None, pos: int) -> Node:
    if isinstance(node, Empty) or high == 0:
        return Empty()
    if low == 1 and high == 1:
        return node
    return Repeat(node, low, high, pos)


# ------------------------------------------------------------------------------------ interface


def _check_global_flags(flags: int, text: str, pos: int | None) -> None:
    if flags & _V1:
        raise UnsupportedPattern("the VERSION1 flag (?V1) is not supported", text, pos)
    if flags & _R:
        raise UnsupportedPattern("the REVERSE flag (?r) is not supported", text, pos)


def _parse_text(text: str, flags: int) -> tuple[Node, int]:
    """The HIR of `text` compiled with `flags`, and the flags that top-level inline flags set
    after the first item (whose initial value `flags` cannot be recovered from a Pattern)."""
    parser = _Parser(text, flags, ascii_pattern=bool(flags & _A))
    node = parser.run()
    final = parser.flags & _ENCODINGS
    if parser.ascii != (final == _A):
        # A top-level (?a) or (?u) set the pattern-level encoding late: read again knowing it.
        parser = _Parser(text, flags, ascii_pattern=final == _A)
        node = parser.run()
    if final == _A | _U:
        raise PatternSyntaxError("ASCII and UNICODE flags are mutually incompatible", text,
                                 parser.encoding_flag_pos)
    mixed = [pos for encoding, pos in parser.encoding_items.items()
             if encoding and encoding != (final or _U)]
    if mixed:
        raise UnsupportedPattern(
            "mixing ASCII (?a) and Unicode (?u) matching in one pattern is not supported",
            text, min(mixed))
    return node, parser.touched


def _check_length(text: str) -> None:
    most = limits.current().pattern_chars
    if len(text) > most:
        raise PatternTooComplex(f"the pattern is longer than {most:,} characters "
                                f"(TYPEDECODE_MAX_PATTERN_CHARS)", text[:60] + "...", None)


MAX_UNROLLED = 100_000
"""Largest `unrolled_size` of text handed to `regex.compile` (the partial engine's pattern, a
`whitespace=` option of schema2re; `check_unrolled`). The module expands counted repeats of
some bodies (those with an alternation) and its compiler crashes the process (segmentation
fault) on long expansions (measured with regex 2026.5.9, in items as `unrolled_size` counts
them: `(?:(?:ab|b){400}){400}`, 320,000, compiles; `(?:ab|b){60000}` three times in a row,
360,000, crashes)."""

# One item of the text for `unrolled_size`: an escape (with its braced argument), a whole set,
# a counted repeat, another quantifier, a group bracket or bar, or a plain character.
_UNROLL_ITEM = re.compile(
    r"\\[pPNxuU]\{[^}]*\}|\\.|\[\^?\]?(?:\[:\^?[^\]]*:\]|\\.|[^\]\\])*\]"
    r"|\{([0-9]*)(?:,([0-9]*))?\}|\((?:\?[:>=!]|\?<[=!]|\?P?<[^>]*>)?|[)|?*+]|(.)", re.DOTALL)


def unrolled_size(text: str) -> tuple[int, int | None]:
    """The items of `text` with every counted repeat written out, and the position of the
    counted repeat that contributed most (None without one). An item is an escape, a set or a
    run of plain characters (as `regex` keeps a literal run as one node); alternatives add up;
    `{n,m}` counts m copies of the item or group before it (n when unbounded). An estimate for
    `check_unrolled`'s guard, not a parser: text it misreads still reaches `regex`."""
    frames = [[0, 0]]  # per open group: [items so far, items of the last item]
    biggest, where = 0, None
    in_run = False
    for m in _UNROLL_ITEM.finditer(text):
        piece, top = m.group(), frames[-1]
        plain = m.group(3) is not None
        if piece[0] == "(":
            frames.append([0, 0])
        elif piece == ")" and len(frames) > 1:
            inner = frames.pop()[0]
            frames[-1][0] += inner
            frames[-1][1] = inner
        elif piece[0] == "{" and (m.group(1) or m.group(2)):
            copies = int(m.group(2) or m.group(1))
            top[0] += top[1] * (copies - 1)
            top[1] *= copies
            if top[1] > biggest:
                biggest, where = top[1], m.start()
        elif piece not in ("|", "?", "*", "+", ")"):
            top[0] += not (plain and in_run)
            top[1] = 1
        in_run = plain
    return sum(f[0] for f in frames), where


def check_unrolled(text: str, advice: str = "") -> None:
    """Raise `PatternTooComplex`, at the counted repeat that contributed most, for text whose
    `unrolled_size` is over `MAX_UNROLLED` (what `regex.compile` would crash on); `advice` ends
    the message."""
    size, where = unrolled_size(text)
    if size > MAX_UNROLLED:
        raise PatternTooComplex(f"the pattern's counted repeats write out to about {size:,} "
                                f"items, over the {MAX_UNROLLED:,} the regex module compiles "
                                f"safely{advice}", text, where)


def parse(pattern: str | regex.Pattern) -> Node:
    """The HIR of the language `regex.fullmatch(pattern, s)` accepts (see module docstring).

    A `regex.Pattern` contributes its `.pattern` text and `.flags`.
    Raises PatternSyntaxError, UnsupportedPattern or PatternTooComplex (all PatternError).
    The last `PARSE_MEMO` results are memoized (HIR nodes are immutable), so checking a pattern
    early and compiling it later parses it once.
    """
    if isinstance(pattern, str):
        _check_length(pattern)
        return _parse_str(pattern)
    if isinstance(pattern, regex.Pattern):
        text, flags = pattern.pattern, int(pattern.flags)
        if not isinstance(text, str):
            raise UnsupportedPattern("bytes patterns are not supported; use a str pattern")
        _check_length(text)
        if flags & ~_KNOWN_FLAGS:
            raise UnsupportedPattern(f"unknown regex flags {flags & ~_KNOWN_FLAGS:#x}")
        _check_global_flags(flags, text, None)
        if flags & _L:
            raise UnsupportedPattern("the LOCALE flag is not supported", text, None)
        return _parse_pattern_object(text, flags)
    if isinstance(pattern, (bytes, bytearray)):
        raise UnsupportedPattern("bytes patterns are not supported; use a str pattern")
    raise PatternSyntaxError(
        f"a pattern must be str or regex.Pattern, not {type(pattern).__name__}")


PARSE_MEMO = 16


@functools.lru_cache(maxsize=PARSE_MEMO)
def _parse_str(text: str) -> Node:
    return _parse_text(text, 0)[0]


@functools.lru_cache(maxsize=PARSE_MEMO)
def _parse_pattern_object(text: str, flags: int) -> Node:
    """A compiled pattern's `.flags` mixes the flags passed to `regex.compile` with those the
    text sets at top level. Where that leaves the starting flags ambiguous, every reading must
    give the same language."""
    node, touched = _parse_text(text, flags)
    bits = [b for b in (_I, _S, _X, _M, _W, _F, _A, _U) if touched & b]
    if len(bits) > 4:
        raise UnsupportedPattern("too many inline flags that are also compile flags", text, None)
    for mask in range(1, 1 << len(bits)):
        variant = flags
        for i, bit in enumerate(bits):
            if mask >> i & 1:
                variant ^= bit
        try:
            other = _parse_text(text, variant)[0]
        except (PatternSyntaxError, UnsupportedPattern):
            continue
        if other != node:
            raise UnsupportedPattern(
                "this compiled pattern's flags are ambiguous: a flag set inline after the start "
                "of the pattern may also have been passed to regex.compile; pass the pattern text",
                text, None)
    return node
