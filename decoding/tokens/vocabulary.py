"""The byte table of a tokenizer: what each token id adds to the output text.

A `Vocabulary` maps every token id of a tokenizer's full id range (added tokens included) to the
raw bytes that token contributes to the generated text. It is the only view of the tokenizer that
the automaton walks and the masks are built from.

Invariants (checked by the constructor, which every path goes through):
- `size == len(token_bytes) == len(offsets) == len(lengths) > 0`, and `flat` is the concatenation
  of `token_bytes`, token `i` at `flat[offsets[i]:offsets[i] + lengths[i]]`.
- `token_bytes[i] == b""` exactly when `i in special_ids`. Special/control tokens, unused ids and
  tokens whose text cannot be mapped to bytes all have empty bytes and are special: an id that
  adds nothing could never be allowed by a mask (it would make no progress).
- `eos_token_ids` is a subset of `special_ids`: EOS adds no text; the guide allows it only where
  the automaton accepts.
- `fingerprint` depends only on `(token_bytes, special_ids, eos_token_ids)`: the same tokenizer
  gives the same value in every process.
- Instances are immutable (attributes cannot be set, the numpy arrays are read-only). A
  vocabulary made by `from_arrays` (the disk cache's path) builds `token_bytes` from `flat` the
  first time it is read; nothing else differs.

Conventions:
- Middle-of-text bytes. `token_bytes[i]` is what the token adds in the middle of a text. A
  SentencePiece token `▁Hello` is `b" Hello"`, although `tokenizer.decode` drops the space when
  that token starts the text (Metaspace prepend scheme, Llama's `Strip` decoder). Generated tokens
  always follow a prompt, so the middle-of-text form is the right one; the output text of a
  generation is `Vocabulary.decode(generated_ids)`, not `tokenizer.decode`.
- Byte-fallback tokens `<0xNN>` are the single byte `NN` (not valid UTF-8 on their own).
- Added tokens that are not special add their content as UTF-8, whatever the decoder.
- Byte-level BPE tokens are mapped back through the GPT-2 byte-to-unicode table; a token with a
  character outside that table is unmappable.
- A model whose logits are wider than `size` (padded embedding matrices) is not this class's
  concern: ids `>= size` are not tokens, and the token index pads its masks with "not allowed".

How a table is built (`from_tokenizer`): for a fast tokenizer whose decoder is made of the
`tokenizers` steps ByteLevel, Metaspace, Replace (plain string), ByteFallback, Fuse and Strip
(after Fuse only), the table is derived from the token strings and the decoder description
without calling decode per token (each decoder step is one pass over the list of every token's
string, with no Python call per token where the step allows); a slow tokenizer with a GPT-2 `byte_decoder` is treated as
ByteLevel. Any other tokenizer is decoded per token between two anchor tokens. Either way the
result is then checked against `tokenizer.decode` on a probe text and on the whole vocabulary at
once; a table derived from the decoder description that fails the check is rebuilt per token, and
a per-token table that fails it raises `VocabularyError` (the tokenizer's decoding depends on
context, so no byte table can describe it).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from decoding.errors import UnmappableTokensWarning, VocabularyError
from decoding.util import warn

__all__ = ["UnmappableTokensWarning", "Vocabulary", "VocabularyError"]


class Vocabulary:
    """Token id -> bytes table plus flat numpy arrays for vectorized walks (see module docstring)."""

    __slots__ = ("_token_bytes", "special_ids", "eos_token_ids", "size", "flat", "offsets",
                 "lengths", "fingerprint")

    special_ids: frozenset[int]
    eos_token_ids: frozenset[int]
    size: int
    flat: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    fingerprint: str

    def __init__(self, token_bytes: Sequence[bytes], special_ids: Iterable[int],
                 eos_token_ids: Iterable[int]):
        """Validate and freeze a table; prefer `from_token_bytes` / `from_tokenizer`.

        Ids with empty bytes are added to the special ids, and EOS ids are special by definition.
        Raises `VocabularyError` for an empty table, an entry that is not bytes, an id out of
        range, or a special id whose entry is not empty.
        """
        table = tuple(token_bytes)
        if not set(map(type, table)) <= {bytes}:
            table = tuple(_as_bytes(i, b) for i, b in enumerate(table))
        lengths = np.fromiter(map(len, table), dtype=np.int32, count=len(table))
        flat = np.frombuffer(b"".join(table), dtype=np.uint8)
        self._freeze(flat, lengths, special_ids, eos_token_ids, table)

    def _freeze(self, flat: np.ndarray, lengths: np.ndarray, special_ids: Iterable[int],
                eos_token_ids: Iterable[int], table: tuple[bytes, ...] | None,
                fingerprint: str | None = None) -> None:
        """Check the invariants on the flat form and set every attribute (`table`, when given,
        is the tuple of token bytes that `flat` and `lengths` were made from; `fingerprint`,
        when given, is taken instead of hashing the table)."""
        size = len(lengths)
        if size == 0:
            raise VocabularyError("the token table is empty")
        eos = _id_set(eos_token_ids, size, "eos_token_ids")
        special = _id_set(special_ids, size, "special_ids") | eos
        listed = np.fromiter(special, dtype=np.int64, count=len(special))
        filled = np.sort(listed[lengths[listed] != 0])
        if len(filled):
            i = int(filled[0])
            start = int(lengths[:i].sum(dtype=np.int64))
            raise VocabularyError(
                f"special token id {i} has bytes {flat[start:start + lengths[i]].tobytes()!r}; "
                "special and EOS tokens must have empty bytes (they add no text)"
            )
        special.update(np.flatnonzero(lengths == 0).tolist())

        offsets = np.zeros(size, dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        for array in (flat, lengths, offsets):
            array.flags.writeable = False

        frozen = dict(_token_bytes=table, special_ids=frozenset(special),
                      eos_token_ids=frozenset(eos), size=size, flat=flat, offsets=offsets,
                      lengths=lengths)
        frozen["fingerprint"] = fingerprint or _fingerprint(lengths, flat, frozen["special_ids"],
                                                            frozen["eos_token_ids"])
        for name, value in frozen.items():
            object.__setattr__(self, name, value)

    @property
    def token_bytes(self) -> tuple[bytes, ...]:
        """Token id -> bytes (made from `flat` on first use when built by `from_arrays`)."""
        table = self._token_bytes
        if table is None:
            data = self.flat.tobytes()
            ends = (self.offsets + self.lengths).tolist()
            table = tuple(data[a:b] for a, b in zip(self.offsets.tolist(), ends))
            object.__setattr__(self, "_token_bytes", table)
        return table

    def bytes_of(self, token_id: int) -> bytes:
        """The bytes of one token, without making the whole `token_bytes` table."""
        table = self._token_bytes
        if table is not None:
            return table[token_id]
        start = int(self.offsets[token_id])
        return self.flat[start:start + int(self.lengths[token_id])].tobytes()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Vocabulary is immutable (cannot set {name!r})")

    def __reduce__(self):
        """Copies and pickles rebuild through `from_token_bytes` (the instance is immutable)."""
        return (Vocabulary.from_token_bytes,
                (self.token_bytes, self.special_ids, self.eos_token_ids))

    @classmethod
    def from_token_bytes(cls, token_bytes: Sequence[bytes], special_ids: Iterable[int],
                         eos_token_ids: Iterable[int]) -> "Vocabulary":
        """A vocabulary from plain data (what the cache stores); same checks as the constructor."""
        return cls(token_bytes, special_ids, eos_token_ids)

    @classmethod
    def from_arrays(cls, flat: np.ndarray, lengths: np.ndarray, special_ids: Iterable[int],
                    eos_token_ids: Iterable[int], *,
                    fingerprint: str | None = None) -> "Vocabulary":
        """A vocabulary from its flat form: `flat` (uint8, the tokens' bytes end to end) and
        `lengths` (one non-negative integer per token, summing to `len(flat)`). Same checks and
        result as `from_token_bytes` on the table they spell, without building the table of
        bytes objects until `token_bytes` is first read. The arrays are copied, except read-only
        views of immutable `bytes` (what the disk cache's reads hand out), which nothing can
        change. `fingerprint` is the `fingerprint` of the vocabulary these arrays were taken
        from (the disk cache stores it with them, under its checksum): given, it is taken as is
        instead of hashing the table (about 5 ms on 262k tokens), so it must be exactly that
        value; it is checked for form only (64 hexadecimal digits)."""
        if fingerprint is not None and not _FINGERPRINT.fullmatch(fingerprint):
            raise VocabularyError(f"fingerprint must be 64 lowercase hexadecimal digits, "
                                  f"got {fingerprint!r}")
        if not (isinstance(flat, np.ndarray) and flat.ndim == 1 and flat.dtype == np.uint8):
            raise VocabularyError("flat must be a 1-D uint8 array")
        if not (isinstance(lengths, np.ndarray) and lengths.ndim == 1
                and lengths.dtype.kind in "iu"):
            raise VocabularyError("lengths must be a 1-D integer array")
        if len(lengths) and int(lengths.min()) < 0:
            raise VocabularyError("lengths must not be negative")
        if int(lengths.sum(dtype=np.int64)) != len(flat):
            raise VocabularyError(f"lengths add up to {int(lengths.sum(dtype=np.int64))}, "
                                  f"but flat holds {len(flat)} bytes")
        vocabulary = cls.__new__(cls)
        vocabulary._freeze(_unchangeable(flat), _unchangeable(lengths.astype(np.int32, copy=False)),
                           special_ids, eos_token_ids, None, fingerprint)
        return vocabulary

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, eos_token_ids: Iterable[int] | None = None, *,
                       tokens: list[str | None] | None = None) -> "Vocabulary":
        """The byte table of a transformers tokenizer (fast or slow).

        `eos_token_ids` overrides the tokenizer's `eos_token_id` (e.g. with a model's
        generation config, which may list several); without either, EOS is empty. `tokens` is
        `token_strings(tokenizer)` where the caller has it already. Tokens whose
        text cannot be mapped become special and are reported by one `UnmappableTokensWarning`.
        Raises `VocabularyError` if the tokenizer's decoding cannot be described by a byte table.
        """
        source = _TokenizerView(tokenizer, tokens)
        if eos_token_ids is None:
            eos = {source.eos_id} if source.eos_id is not None else set()
        else:
            eos = _id_set(eos_token_ids, source.size, "eos_token_ids")
        special = source.special_ids | eos

        table = None
        step = _decoder_step(tokenizer)
        if step is not None:
            table = _table_from_step(source, special, step)
            if source.mismatch(table, special) is not None:
                table = None
        if table is None:
            table = _table_from_decode(source, special)
            problem = source.mismatch(table, special)
            if problem is not None:
                raise VocabularyError(
                    "this tokenizer's decoding depends on the surrounding tokens, so it cannot be "
                    f"described by a byte table: {problem}"
                )

        unmapped = [i for i in itertools.compress(range(len(table)), map(operator.not_, table))
                    if i not in special and source.tokens[i] is not None]
        if unmapped:
            shown = ", ".join(f"{i}={source.tokens[i]!r}" for i in unmapped[:5])
            warn(f"{len(unmapped)} token(s) of {source.size} could not be mapped to bytes and "
                 f"will never be generated (e.g. {shown})", UnmappableTokensWarning, stacklevel=2)
        return cls(table, special, eos)

    def decode(self, ids: Iterable[int]) -> bytes:
        """The concatenated bytes of `ids` (special tokens add nothing).

        Raises `VocabularyError` for an id outside `0..size-1`.
        """
        table = self.token_bytes
        size = self.size
        parts = []
        for position, token_id in enumerate(ids):
            try:
                i = operator.index(token_id)
            except TypeError:
                raise VocabularyError(
                    f"{token_id!r} at position {position} is not a token id") from None
            if not 0 <= i < size:
                raise VocabularyError(
                    f"token id {i} at position {position} is outside the vocabulary "
                    f"(ids 0..{size - 1})"
                )
            parts.append(table[i])
        return b"".join(parts)

    def __repr__(self) -> str:
        return (f"Vocabulary(size={self.size}, special={len(self.special_ids)}, "
                f"eos={sorted(self.eos_token_ids)}, fingerprint={self.fingerprint[:12]}...)")


# --- validation and hashing -------------------------------------------------------------------

def _as_bytes(index: int, value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise VocabularyError(f"token_bytes[{index}] is {type(value).__name__}, expected bytes")


def _id_set(ids: Iterable[int], size: int, what: str) -> set[int]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise VocabularyError(f"{what} must be a collection of token ids, got {type(ids).__name__}")
    array = np.asarray(ids) if isinstance(ids, (list, tuple, np.ndarray)) else None
    if array is not None and array.ndim == 1 and array.dtype.kind in "iu":
        # plain integers (the cache stores Gemma's 6,000 special ids): checked as one array
        if len(array) and not 0 <= int(array.min()) <= int(array.max()) < size:
            bad = int(array[(array < 0) | (array >= size)][0])
            raise VocabularyError(f"{what} contains id {bad}, outside the vocabulary "
                                  f"(ids 0..{size - 1})")
        return set(array.tolist())
    out = set()
    for value in ids:
        try:
            i = operator.index(value)
        except TypeError:
            raise VocabularyError(f"{what} contains {value!r}, which is not a token id") from None
        if not 0 <= i < size:
            raise VocabularyError(f"{what} contains id {i}, outside the vocabulary (ids 0..{size - 1})")
        out.add(i)
    return out


def _unchangeable(array: np.ndarray) -> np.ndarray:
    """`array` itself when nothing can change its values (read-only, over the memory of a
    `bytes` object, directly or through a read-only memoryview), else a copy."""
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview) and base.readonly:
        base = base.obj
    if type(base) is bytes and not array.flags.writeable:
        return array
    return array.copy()


_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def _fingerprint(lengths: np.ndarray, flat: np.ndarray, special: frozenset[int],
                 eos: frozenset[int]) -> str:
    """blake2b over: version tag, size, lengths (int32 LE), flat bytes, special ids, eos ids."""
    h = hashlib.blake2b(digest_size=32, person=b"typedecode.voc1")
    h.update(np.int64(len(lengths)).astype("<i8").tobytes())
    h.update(lengths.astype("<i4").tobytes())
    h.update(flat.tobytes())
    for ids in (special, eos):
        h.update(np.int64(len(ids)).astype("<i8").tobytes())
        h.update(np.array(sorted(ids), dtype="<i8").tobytes())
    return h.hexdigest()


# --- what the tokenizer says ------------------------------------------------------------------

# Text whose tokens are decoded both ways to check a table: JSON, ASCII, whitespace runs, tabs,
# newlines, Latin accents, CJK, emoji (with modifiers and a ZWJ sequence).
_PROBE = (
    'Probe {"name": "Zoë", "n": [1, 2.5e-3, -7], "ok": true, "none": null}\n'
    "\tIndented  text,   runs of spaces\n\n\r\nline\\ends \"quoted\" <tag/> #42 $9.99 ~50%\n"
    "日本語のテキスト、中文文本，한국어 문장 😀👍🏽🎉 👨‍👩‍👧 café naïve ½ € ✓ ..."
)
_ANCHOR_TEXTS = ("a", "x", "0", ".", "the")


class _TokenizerView:
    """The parts of a transformers tokenizer that the table is built from and checked against."""

    def __init__(self, tokenizer: Any, tokens: list[str | None] | None = None):
        for attribute in ("get_vocab", "decode", "encode", "added_tokens_decoder"):
            if not hasattr(tokenizer, attribute):
                raise VocabularyError(
                    f"expected a transformers tokenizer, got {type(tokenizer).__name__} "
                    f"(it has no {attribute!r})"
                )
        self.tokenizer = tokenizer
        self.tokens = token_strings(tokenizer) if tokens is None else tokens
        self.size = len(self.tokens)
        self.added = {i: (t.content, bool(getattr(t, "special", False)))
                      for i, t in tokenizer.added_tokens_decoder.items()}
        self.special_ids = {i for i, (_, special) in self.added.items() if special}
        self.special_ids |= {i for i in tokenizer.all_special_ids if i is not None}
        eos = tokenizer.eos_token_id
        self.eos_id = eos if isinstance(eos, int) else None
        self.anchor = self._anchor()
        # The anchor at the start of a text, and after another anchor (its middle-of-text form).
        self.head = self.text([self.anchor])
        twice = self.text([self.anchor, self.anchor])
        if not twice.startswith(self.head):
            raise VocabularyError(f"decoding the anchor token {self.anchor} twice does not "
                                  f"extend decoding it once ({twice!r} vs {self.head!r})")
        self.tail = twice[len(self.head):]

    def _anchor(self) -> int:
        """A plain token id that decodes to visible text, used to frame other tokens."""
        for text in _ANCHOR_TEXTS:
            ids = [i for i in self.tokenizer.encode(text, add_special_tokens=False)
                   if i not in self.special_ids and i not in self.added]
            if ids and self.text(ids[-1:]).strip():
                return ids[-1]
        raise VocabularyError(
            f"none of {_ANCHOR_TEXTS!r} encodes to an ordinary token; cannot frame tokens for decoding"
        )

    def text(self, ids: list[int]) -> str:
        # As an array: transformers checks a list's items one by one (0.2 s on 262k ids).
        return self.tokenizer.decode(np.asarray(ids, dtype=np.int64), skip_special_tokens=False,
                                     clean_up_tokenization_spaces=False)

    def texts(self, batch: list[list[int]]) -> list[str]:
        return self.tokenizer.batch_decode(batch, skip_special_tokens=False,
                                           clean_up_tokenization_spaces=False)

    def unframe(self, whole: str) -> str | None:
        """The text between the two anchors of a framed decode, or None if they did not survive."""
        if whole.startswith(self.head) and whole.endswith(self.tail) \
                and len(whole) >= len(self.head) + len(self.tail):
            return whole[len(self.head):len(whole) - len(self.tail)]
        return None

    def mismatch(self, table: Sequence[bytes], special: set[int]) -> str | None:
        """Where `table` and `tokenizer.decode` disagree, or None.

        Checked on the probe text's tokens and on every ordinary token whose bytes are valid
        UTF-8, all in one sequence; special and added tokens are left out.
        """
        skip = special | set(self.added)
        probe = [i for i in self.tokenizer.encode(_PROBE, add_special_tokens=False)
                 if i not in skip]
        whole = _utf8_ids(table, skip)
        for name, ids in (("probe text", probe), ("whole vocabulary", whole)):
            mine = b"".join(map(table.__getitem__, ids)).decode("utf-8", errors="replace")
            theirs = self.unframe(self.text([self.anchor, *ids, self.anchor]))
            if theirs is None:
                return f"on the {name}, the anchor tokens around it did not decode unchanged"
            if mine != theirs:
                at = next((k for k, (a, b) in enumerate(zip(mine, theirs)) if a != b),
                          min(len(mine), len(theirs)))
                return (f"on the {name}, at character {at}: the byte table gives "
                        f"{mine[max(0, at - 20):at + 20]!r}, tokenizer.decode gives "
                        f"{theirs[max(0, at - 20):at + 20]!r}")
        return None


def token_strings(tokenizer: Any) -> list[str | None]:
    """Token id -> token string (None for an id without one), over `len(tokenizer)` ids or more.

    A fast tokenizer is asked id by id (cheaper than its `get_vocab` dict on big vocabularies)
    when that finds as many tokens as it holds; otherwise, and for a slow tokenizer, the table
    comes from `get_vocab`."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        try:
            tokens = list(map(backend.id_to_token, range(len(tokenizer))))
            if len(tokens) - tokens.count(None) == backend.get_vocab_size(with_added_tokens=True):
                return tokens
        except Exception:  # an unusual backend: read its vocabulary below
            pass
    vocab = tokenizer.get_vocab()
    tokens = [None] * max(len(tokenizer), 1 + max(vocab.values(), default=-1))
    for token, i in vocab.items():
        tokens[i] = token
    return tokens


_UTF8_CHUNK = 256  # tokens checked by one decode call (a chunk that fails is checked one by one)


def _utf8_ids(table: Sequence[bytes], skip: set[int]) -> list[int]:
    """The ids, ascending, of the non-empty entries of `table` that are valid UTF-8, `skip` left
    out."""
    keep = list(map(bytes.isascii, table))  # ASCII is UTF-8
    others = list(itertools.compress(range(len(table)), map(operator.not_, keep)))
    for start in range(0, len(others), _UTF8_CHUNK):
        ids = others[start:start + _UTF8_CHUNK]
        # Joined by an ASCII byte, a token can neither end inside a character nor begin with a
        # continuation byte unnoticed: the chunk decodes exactly when each of its tokens does.
        if _is_utf8(b"\n".join(map(table.__getitem__, ids))):
            for i in ids:
                keep[i] = True
        else:
            for i in ids:
                keep[i] = _is_utf8(table[i])
    for i in skip:
        if 0 <= i < len(keep):
            keep[i] = False
    return list(itertools.compress(range(len(table)), map(operator.and_, keep, map(bool, table))))


def _utf8(text: str) -> bytes | None:
    """`text` as UTF-8, or None if it holds lone surrogates."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- tables -----------------------------------------------------------------------------------

def _table_from_step(source: _TokenizerView, special: set[int], steps: _Steps) -> list[bytes]:
    """The table from the decoder's steps run over every token string at once; special ids and
    ids without a token are empty, added tokens are their content."""
    tokens = source.tokens
    table = steps(tokens if None not in tokens else [t or "" for t in tokens])
    if None in table:
        table = [b or b"" for b in table]
    for i in special:
        table[i] = b""
    for i, (content, is_special) in source.added.items():
        if not is_special and i not in special:
            table[i] = content.encode("utf-8")
    return table


def _table_from_decode(source: _TokenizerView, special: set[int]) -> list[bytes]:
    """Per-token decode between anchors; a token that decodes to U+FFFD is unmappable."""
    table = [b""] * source.size
    todo = []
    for i, token in enumerate(source.tokens):
        if i in source.added and i not in special:
            table[i] = source.added[i][0].encode("utf-8")
        elif i not in special and token is not None:
            todo.append(i)
    texts = source.texts([[source.anchor, i, source.anchor] for i in todo])
    for i, whole in zip(todo, texts):
        text = source.unframe(whole)
        if text and "\ufffd" not in text:
            table[i] = _utf8(text) or b""
    return table


# --- decoder descriptions -> one function from token strings to bytes --------------------------

# Each step maps the list of every token's piece to the next list, one whole-list pass (a
# Python call per token per step cost Gemma's 262,144 tokens over a second); None marks a token
# that cannot be mapped and stays None.
_Piece = str | bytes  # a token on its way through the decoder steps
_Pieces = list[_Piece | None]
_Steps = Callable[[list[str]], list[bytes | None]]


def _gpt2_byte_chars() -> list[str]:
    """The GPT-2 byte-to-unicode map: printable Latin-1 bytes stand for themselves, the other
    bytes take the code points from 256 upwards, in byte order."""
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(ord("¡"), ord("¬") + 1)) \
        | set(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def _byte_level(char_to_byte: dict[str, int]) -> Callable[[_Pieces], _Pieces]:
    """The ByteLevel step for a char -> byte map; a token with any other character fails."""
    # Translate each mapped char to the Latin-1 char of its byte and every other code point
    # below 256 to one that Latin-1 cannot encode, so that encoding fails on unmapped chars.
    table = {cp: "\U0010ffff" for cp in range(256)}
    table.update({ord(c): chr(b) for c, b in char_to_byte.items()})

    def one(piece: _Piece | None) -> _Piece | None:
        if not isinstance(piece, str):
            return piece
        try:
            return piece.translate(table).encode("latin-1")
        except UnicodeEncodeError:
            return None

    def to_bytes(pieces: _Pieces) -> _Pieces:
        if not _all_text(pieces):
            return [one(p) for p in pieces]
        # Every char becomes one char, then one byte: all pieces translated and encoded as one
        # text, cut at the pieces' lengths; a piece with an unmapped char fails the whole text,
        # then each piece is mapped alone.
        try:
            data = "".join(pieces).translate(table).encode("latin-1")
        except UnicodeEncodeError:
            return [one(p) for p in pieces]
        ends = list(itertools.accumulate(map(len, pieces)))
        return [data[a:b] for a, b in zip([0, *ends], ends)]

    return to_bytes


def _all_text(pieces: _Pieces) -> bool:
    """Whether every piece is a `str` (then a step maps one C function over the list)."""
    return set(map(type, pieces)) <= {str}


_GPT2_BYTE_LEVEL = _byte_level({c: b for b, c in enumerate(_gpt2_byte_chars())})
# Every spelling `<0xNN>` that the ByteFallback step reads as the byte NN (either case).
_BYTE_TOKENS = {f"<0x{hi}{lo}>": bytes([int(hi + lo, 16)])
                for hi in "0123456789ABCDEFabcdef" for lo in "0123456789ABCDEFabcdef"}


def _byte_fallback(pieces: _Pieces) -> _Pieces:
    return list(map(_BYTE_TOKENS.get, pieces, pieces))  # a piece that is no key stays


def _replacer(old: str, new: str) -> Callable[[_Pieces], _Pieces]:
    old_b, new_b = old.encode("utf-8"), new.encode("utf-8")

    def replace(pieces: _Pieces) -> _Pieces:
        if _all_text(pieces):
            return list(map(str.replace, pieces, itertools.repeat(old), itertools.repeat(new)))
        return [p.replace(old, new) if type(p) is str
                else None if p is None else p.replace(old_b, new_b) for p in pieces]

    return replace


def _as_utf8(pieces: _Pieces) -> list[bytes | None]:
    """The last step: text pieces as UTF-8 (None for one with lone surrogates); the others (bytes
    or None, few) are blanked for one `str.encode` over the list and put back after it."""
    others = list(itertools.compress(range(len(pieces)), map(operator.is_not, map(type, pieces),
                                                             itertools.repeat(str))))
    texts = pieces.copy() if others else pieces
    for i in others:
        texts[i] = ""
    try:
        out = list(map(str.encode, texts))
    except UnicodeEncodeError:
        out = [_utf8(t) for t in texts]
    for i in others:
        out[i] = pieces[i]
    return out


def _decoder_step(tokenizer: Any) -> _Steps | None:
    """Token strings -> bytes (None where unmappable) for a decoder we can mirror per token, or
    None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # The decoder's pickled state is its JSON description (much cheaper than the whole
        # tokenizer's JSON); a custom Python decoder cannot be described: decode per token.
        decoder = backend.decoder
        if decoder is None:  # tokenizers then joins tokens with spaces: decode per token
            return None
        try:
            spec = json.loads(decoder.__getstate__())
        except Exception:
            return None
        steps = _steps_from_spec(spec)
    elif isinstance(getattr(tokenizer, "byte_decoder", None), dict):
        steps = [_byte_level(tokenizer.byte_decoder)]
    else:
        steps = None
    if steps is None:
        return None

    def run(tokens: list[str]) -> list[bytes | None]:
        pieces: _Pieces = list(tokens)
        for step in steps:
            pieces = step(pieces)
        return _as_utf8(pieces)

    return run


def _steps_from_spec(spec: Any) -> list[Callable[[_Pieces], _Pieces]] | None:
    """The per-token steps of a `tokenizers` decoder description, or None if unsupported."""
    if not isinstance(spec, dict):
        return None
    flat = spec.get("decoders", []) if spec.get("type") == "Sequence" else [spec]
    steps: list[Callable[[_Pieces], _Pieces]] = []
    fused = False
    for part in flat:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "ByteLevel":
            steps.append(_GPT2_BYTE_LEVEL)
        elif kind == "Metaspace":
            steps.append(_replacer(part.get("replacement", "\u2581"), " "))
        elif kind == "Replace" and isinstance(part.get("pattern"), dict) \
                and isinstance(part["pattern"].get("String"), str):
            steps.append(_replacer(part["pattern"]["String"], part.get("content", "")))
        elif kind == "ByteFallback":
            if not fused:  # after Fuse there is one string left, never a single byte token
                steps.append(_byte_fallback)
        elif kind == "Fuse":
            fused = True
        elif kind == "Strip" and fused:
            pass  # trims the ends of the whole text only; tokens are taken in the middle
        else:
            return None
    return steps
