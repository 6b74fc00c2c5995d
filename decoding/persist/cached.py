"""The decoding core's disk cache: what one process computes, the next one loads.

Stored in a `cache.store.Store` (kind: key -> value):
- "vocabulary": a tokenizer key -> its byte table (`flat`, `lengths`, `special`, `eos`), its
  `fingerprint` (taken on load instead of hashing the table again: the record's checksum covers
  it) and the text of the `UnmappableTokensWarning` its build emitted (re-emitted on every load).
  It is read as views over the value read (no copy). The key (`tokenizer_key`) is a hash of
  every token string, the backend's decoder / normalizer / pre-tokenizer / post-processor
  descriptions and its model's type and settings (not the merges or scores: they decide how a
  text is split, not what a token adds), plus a digest of what transformers adds on top (model
  size, special ids, EOS, added tokens, class), and the library versions. Tokenizers without a
  `backend_tokenizer` are not cached.
- "vocabulary_stamp": a tokenizer stamp -> the tokenizer key above, plus the CRC-32 of every
  token string.
  Reading every token string costs 0.2 s on a 262k vocabulary, so a fast tokenizer loaded from a local folder is
  first looked up by a stamp that costs a few ms (on Gemma, mostly reading its 6,000 added
  tokens): the folder's path and the identity
  of every file in it (size, mtime, ctime, inode), the decoder / normalizer / pre-tokenizer /
  post-processor descriptions and the transformers extras of the key. A
  stamp is only trusted when the tokenizer's strings for `STAMP_SAMPLE` random ids match the
  recorded CRCs; otherwise the full key is computed and the stamp recorded again. What a stamp
  cannot see is a tokenizer file rewritten in place with its size, times and inode kept (ctime
  cannot be set back) or a tokenizer model swapped in memory for one of the same size, decoder
  and added tokens; the token-string sample makes such a change unlikely to go unnoticed.
- "trie": a vocabulary fingerprint -> its `TokenTrie` arrays, read when a process first computes
  an entry (a warm process whose entries are all stored never reads it).
- "pattern": (a hash of the pattern text, flags, max_states, vocabulary fingerprint) -> one
  record (`decoding.persist.snapshot.pack_record`): a snapshot of every automaton state
  discovered so far (its key, and its row where computed) and the token-index entries of every
  state computed so far (allowed tokens and the states they lead to, numbered as in the
  snapshot). One store read gives both: a process without the pattern's automaton makes it from
  the snapshot with the same numbers, so an entry is found and unpacked by state number, with
  no per-state Python work. It is read (as read-only views over the value read) and checked
  as a whole when the index is opened, so that no later step of a decoding reads the store;
  each entry is unpacked when its state is first met. Mask width is not part of the key: masks are rebuilt from the
  token ids at any width.
- "schema2re": options, schema size and depth limits + the schema's JSON text -> the regex
  `schema2re.to_regex` made of it (the partial engine's input).
- "schema_language": the same key -> the outcome of `schema2re.to_expression` (the warnings it
  emitted, or its refusal); the schema's guide is then stored under that key as its pattern, so
  a warm process skips the translation, and the check walk of a dict schema
  (`cached_schema_language`).
Every key holds `PERSIST_VERSION` and a fingerprint of the source code that computes the value
(the decoding core's modules, or the schema2re package, plus the regex module's version and
Unicode data), so changed code never reads values made by other code. The core's fingerprint is
taken when this module is imported, right after the core modules are: a process whose source
files are edited or upgraded while it runs keeps the fingerprint of the code it runs (taken at its
first cache use instead, it would store its old code's values under the new code's keys).

Contracts:
- A warm start is indistinguishable from a cold one: masks, transitions, accepting states and
  warnings are the same. A restored automaton builds its expression only when it meets a state whose
  row was not saved.
- `PersistentIndex` saves after its 1st, 2nd, 4th, ... newly computed entry, then every
  `SAVE_EVERY` entries or half as many as it saved before, whichever is more (each save merges
  the whole record of the pattern, so the bytes merged stay within a few times the record's
  final size), when `decoding.compile`'s in-process memo lets go of it, at interpreter
  exit, and on `save()`. What is new is taken on the calling thread (the automaton's snapshot,
  the new entries) and packed and written by one background thread (`cache.writer`), so a
  write never delays a mask (so are the records of translations: `cached_to_regex`'s and
  `cached_schema_language`'s); `flush()` waits for the
  queued writes, `save()` and interpreter exit wait too. New entries and the automaton's states
  are merged into the stored record (an entry is a function of its state's key, so concurrent
  writers agree), so every process working on a pattern and vocabulary adds to one union (state
  ids differ between processes and are remapped through the state keys).
- Nothing here makes compile or decoding fail: a store error degrades inside the store, a value
  that fails its checks is a miss (rebuilt, then written over instead of merged), and any other
  error while loading or saving is reported once as a `CacheWarning` and the work goes on cold.
- Warnings of a cold build (a vocabulary's `UnmappableTokensWarning`, a translation's
  `IgnoredKeywordsWarning`) are emitted as they happen and noted with
  `decoding.util.noting_warnings` (per thread), never captured with `warnings.catch_warnings`.

Threads: everything here may be used from several threads at once. A `PersistentIndex` is a
`TokenIndex` (see its thread contract): an entry is loaded or computed under the index's lock,
hits take none. The list of unsaved states changes hands under that lock, the automaton's
snapshot is taken under the automaton's lock, and packing and writing need neither (entries are
immutable; the single writer thread writes in queue order). `_OPEN` is listed under its own lock.
Processes share a store through `cache.store` (entries are functions of their keys; records are
merged, never overwritten, unless rejected).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import inspect
import json
import os
import random
import sys
import threading
import unicodedata
import warnings
import weakref
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import regex

from cache.store import CacheWarning, Store, get_store
from cache.writer import BackgroundWriter
from decoding import limits
from decoding.automaton import syntax  # noqa: F401  (syntax: loaded before the fingerprint)
from decoding.automaton.dfa import DEAD, Automaton
from decoding.automaton.expr import Expr
from decoding.automaton.language import Language
from decoding.persist import snapshot
from decoding.tokens.index import StateEntry, TokenIndex
from decoding.tokens.trie import TokenTrie, unusable_bits_of
from decoding.tokens.vocabulary import UnmappableTokensWarning, Vocabulary, token_strings
from decoding.util import noting_warnings

PERSIST_VERSION = 5  # 5: one record of states and entries per pattern and vocabulary
SAVE_EVERY = 64
STAMP_SAMPLE = 256  # token strings checked each time a stamp is used

_DECODING = Path(__file__).resolve().parents[1]
# The layers whose code decides what is cached, as package folders: every module in them counts.
_CORE_LAYERS = ("automaton", "tokens", "persist")
_SCHEMA2RE_LAYERS = ("automaton",)  # what schema2re builds its regex text with, besides itself


def store_for(cache_dir: Any) -> Store | None:
    """The process-wide store for `cache_dir` (see `cache.location`), or None when the disk cache
    is off or the decoding core's source cannot be fingerprinted."""
    if core_fingerprint() is None:
        return None
    store = get_store(cache_dir)
    return None if store.path is None else store  # no path: the cache is off


@functools.cache
def core_fingerprint() -> str | None:
    """Hash of the decoding core's source and the Unicode tables it reads (None if unreadable)."""
    return _fingerprint(_layer_files(_DECODING / layer for layer in _CORE_LAYERS),
                        [regex.__version__, unicodedata.unidata_version])


@functools.cache
def schema2re_fingerprint() -> str | None:
    """Hash of the schema2re package's source (None if unreadable)."""
    import schema2re

    folders = [Path(schema2re.__file__).parent, *(_DECODING / l for l in _SCHEMA2RE_LAYERS)]
    return _fingerprint(_layer_files(folders), [regex.__version__, unicodedata.unidata_version])


def _layer_files(folders: Iterable[Path]) -> list[Path]:
    """Every module of the given package folders (Python and C sources), in a fixed order
    (one listing of each folder: `Path.glob` costs milliseconds)."""
    return [folder / name for folder in folders
            for name in sorted(entry.name for entry in os.scandir(folder)
                               if entry.name.endswith((".py", ".c")) and entry.is_file())]


def _fingerprint(files: Iterable[Path], extra: list[str]) -> str | None:
    h = hashlib.blake2b(digest_size=16)
    for part in extra:
        h.update(part.encode() + b"\0")
    try:
        for path in files:
            name = f"{path.parent.name}/{path.name}"
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    return h.hexdigest()


core_fingerprint()  # now, while the files on disk are the ones just imported (module docstring)


def _key(*parts: Any) -> str:
    return json.dumps([PERSIST_VERSION, *parts], ensure_ascii=False, separators=(",", ":"))


def _pattern_digest(pattern: str) -> str:
    """A pattern's text (or a schema's language name: its whole JSON; a tokenizer's extras) in a
    key, as a fixed-size hash: a key holding the text would be escaped and hashed again for every
    record read."""
    return hashlib.blake2b(pattern.encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


# --- vocabulary tables and tries -------------------------------------------------------------

def tokenizer_key(tokenizer: Any, tokens: list[str | None] | None = None) -> str | None:
    """A key that changes whenever anything the byte table is built from changes, or None for a
    tokenizer without a `tokenizers` backend (then it is not cached).

    It holds a digest of every token string (`token_strings`; `tokens` where the caller has
    them), the backend's decoder, normalizer, pre-tokenizer and post-processor, its model's
    type and settings (not its merges or scores, which decide how text is split, not what a
    token adds), and what transformers adds on top (`_tokenizer_extra`). Serializing the whole
    tokenizer instead cost 0.4-0.9 s on Gemma's 262k tokens, most of it the merges.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or core_fingerprint() is None:
        return None
    try:
        if tokens is None:
            tokens = token_strings(tokenizer)
        digest = hashlib.blake2b(json.dumps(tokens, ensure_ascii=False).encode("utf-8", "surrogatepass"),
                                 digest_size=32)
        model = backend.model
        described = [type(model).__module__, type(model).__qualname__, _settings(model), _pipeline(backend)]
        return _key("vocabulary", core_fingerprint(), digest.hexdigest(),
                    _pattern_digest(json.dumps(described, ensure_ascii=False, separators=(",", ":"))),
                    _tokenizer_extra(tokenizer), _versions())
    except Exception:  # an unusual tokenizer: build its table without the cache
        return None


def _settings(model: Any) -> list[tuple[str, str]]:
    """A `tokenizers` model's settings: every attribute its class defines as a native getter
    (BPE's `byte_fallback`, `unk_token`, `continuing_subword_prefix`, ...), as text."""
    cls = type(model)
    return [(name, repr(getattr(model, name))) for name in sorted(vars(cls))
            if type(vars(cls)[name]).__name__ == "getset_descriptor" and not name.startswith("_")]


def _pipeline(backend: Any) -> list[str | None]:
    """The JSON descriptions of the backend's decoder, normalizer, pre-tokenizer and
    post-processor (None where it has none)."""
    return [None if part is None else part.__getstate__().decode("utf-8")
            for part in (backend.decoder, backend.normalizer, backend.pre_tokenizer,
                         backend.post_processor)]


def tokenizer_stamp(tokenizer: Any) -> str | None:
    """A cheap key for a fast tokenizer loaded from a local folder, or None (no stamp).

    It holds the folder's absolute path and every file in it (name, size, mtime, ctime, inode),
    the decoder, normalizer, pre-tokenizer and post-processor descriptions and what
    `tokenizer_key` adds on top of the serialization (the vocabulary size among it). It maps to a `tokenizer_key` in
    the store, checked against a random sample of token strings on each use (`stamped_key`).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    folder = getattr(tokenizer, "name_or_path", None)
    if backend is None or not isinstance(folder, str) or not folder or core_fingerprint() is None \
            or getattr(tokenizer, "init_kwargs", {}).get("subfolder"):
        return None
    try:
        root = Path(folder).absolute()
        files = []
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.is_file():
                    st = os.stat(entry.path)
                    files.append((entry.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                  st.st_ino, st.st_dev))
        return _key("vocabulary-stamp", core_fingerprint(), str(root), sorted(files), _pipeline(backend),
                    _tokenizer_extra(tokenizer), _versions())
    except Exception:  # not a folder, unreadable, or an unusual tokenizer: no stamp
        return None


def _tokenizer_extra(tokenizer: Any) -> str:
    """A digest of what transformers adds on top of the `tokenizers` serialization: the class,
    the special ids, EOS and every added token (id, content, special flag), with the size of the
    backend's model vocabulary (which with the added tokens makes `len(tokenizer)`; that call
    counts a dictionary of every token, 0.4-4 ms on Gemma). Hashed rather than put in a key:
    Gemma's 6,000 added tokens would make every key holding them 185 kB of JSON."""
    added = tokenizer.added_tokens_decoder
    ids = sorted(added)
    tokens = list(map(added.__getitem__, ids))
    size = tokenizer.backend_tokenizer.get_vocab_size(with_added_tokens=False)
    described = [type(tokenizer).__module__, type(tokenizer).__qualname__, int(size),
                 sorted(int(i) for i in tokenizer.all_special_ids if i is not None),
                 repr(tokenizer.eos_token_id), ids, [str(t.content) for t in tokens],
                 [bool(getattr(t, "special", False)) for t in tokens]]
    return _pattern_digest(json.dumps(described, ensure_ascii=False, separators=(",", ":")))


def _versions() -> list[str]:
    return [str(getattr(sys.modules.get(name), "__version__", None))
            for name in ("transformers", "tokenizers")]


def stamped_key(store: Store, stamp: str, tokenizer: Any) -> str | None:
    """The `tokenizer_key` recorded for `stamp`, or None when there is none or the tokenizer's
    strings for `STAMP_SAMPLE` random ids (and the last id) differ from the recorded ones."""
    arrays = store.get_arrays("vocabulary_stamp", stamp, views=True)
    if arrays is None:
        return None
    key, crc = arrays.get("key"), arrays.get("crc")
    # The stamp holds the model's size and the added tokens, so the record's length is the
    # tokenizer's (not asked again: `len(tokenizer)` costs up to 4 ms on Gemma); the last id is
    # always in the sample.
    if key is None or crc is None or key.shape != (1,) or key.dtype.kind != "U" \
            or crc.dtype != np.uint32 or crc.ndim != 1 or not len(crc):
        return None
    size = len(crc)
    ids = [*random.sample(range(size), min(STAMP_SAMPLE, size)), size - 1]
    if crc[ids].tolist() != list(map(zlib.crc32, _stamp_texts(tokenizer, ids))):
        return None
    return str(key[0])


def _record_stamp(store: Store, stamp: str, key: str, tokens: list[str | None]) -> None:
    """Record that `stamp` stands for `key`, with the CRC-32 of every token string (`tokens`,
    the tokenizer's `token_strings`) for `stamped_key` (a quarter of the strings' bytes on
    Gemma, read by every warm process)."""
    store.put_arrays("vocabulary_stamp", stamp, {
        "key": np.asarray([key]),
        "crc": np.fromiter(map(zlib.crc32, map(_stamp_text, tokens)), dtype=np.uint32, count=len(tokens)),
    })


def _stamp_texts(tokenizer: Any, ids: Iterable[int]) -> list[bytes]:
    """The strings of token `ids` as the stamp records them (b"\\0" for an id without one), read
    from the fast tokenizer's backend (a stamped tokenizer has one) id by id: on a 262k-token
    vocabulary 0.2 s, against 0.4 s through `convert_ids_to_tokens`."""
    return list(map(_stamp_text, map(tokenizer.backend_tokenizer.id_to_token, ids)))


def _stamp_text(token: str | None) -> bytes:
    return b"\0" if token is None else token.encode("utf-8", "surrogatepass")


def cached_vocabulary(tokenizer: Any, store: Store) -> Vocabulary:
    """`Vocabulary.from_tokenizer(tokenizer)`, loaded from `store` when it was built before.

    The table is found through `tokenizer_stamp` when the store knows the stamp and the sampled
    token strings agree; otherwise through `tokenizer_key`, and the stamp is then recorded.
    """
    stamp = tokenizer_stamp(tokenizer)
    if stamp is not None:
        key = _quietly(lambda: stamped_key(store, stamp, tokenizer))
        vocabulary = None if key is None else load_vocabulary(store, key)
        if vocabulary is not None:
            return vocabulary
    if getattr(tokenizer, "backend_tokenizer", None) is None:  # no key: not cached
        return Vocabulary.from_tokenizer(tokenizer)
    tokens = token_strings(tokenizer)  # read once for the key, the table and the stamp
    key = tokenizer_key(tokenizer, tokens)
    if key is None:
        return Vocabulary.from_tokenizer(tokenizer, tokens=tokens)
    vocabulary = load_vocabulary(store, key)
    if vocabulary is None:
        vocabulary = _build_vocabulary(tokenizer, tokens, store, key)
    if stamp is not None:
        _quietly(lambda: _record_stamp(store, stamp, key, tokens))
    return vocabulary


def _build_vocabulary(tokenizer: Any, tokens: list[str | None], store: Store, key: str) -> Vocabulary:
    with noting_warnings() as noted:
        vocabulary = Vocabulary.from_tokenizer(tokenizer, tokens=tokens)
    warning = "\n".join(str(w) for w in noted if isinstance(w, UnmappableTokensWarning))
    _quietly(lambda: store.put_arrays("vocabulary", key, {
        "flat": vocabulary.flat, "lengths": vocabulary.lengths,
        "special": np.asarray(sorted(vocabulary.special_ids), dtype=np.int64),
        "eos": np.asarray(sorted(vocabulary.eos_token_ids), dtype=np.int64),
        "warning": np.asarray([warning]), "fingerprint": np.asarray([vocabulary.fingerprint]),
    }))
    return vocabulary


def load_vocabulary(store: Store, key: str) -> Vocabulary | None:
    """The table stored under a `tokenizer_key`, or None (a miss, or a value that fails its
    checks); re-emits the `UnmappableTokensWarning` its build emitted."""
    arrays = _quietly(lambda: store.get_arrays("vocabulary", key, views=True))
    if arrays is None:
        return None
    try:
        flat, lengths = arrays["flat"], arrays["lengths"]
        special, eos, warning = arrays["special"], arrays["eos"], arrays["warning"]
        fingerprint = arrays["fingerprint"]
        if lengths.dtype != np.int32 or special.dtype != np.int64 or eos.dtype != np.int64 \
                or special.ndim != 1 or eos.ndim != 1 \
                or warning.shape != (1,) or warning.dtype.kind != "U" \
                or fingerprint.shape != (1,) or fingerprint.dtype.kind != "U":
            return None
        vocabulary = Vocabulary.from_arrays(flat, lengths, special, eos,
                                            fingerprint=str(fingerprint[0]))
    except (KeyError, ValueError):  # VocabularyError is a ValueError
        return None
    if warning[0]:
        warnings.warn(str(warning[0]), UnmappableTokensWarning, stacklevel=4)
    return vocabulary


def cached_trie(vocabulary: Vocabulary, store: Store) -> TokenTrie:
    """The trie of `vocabulary`, loaded from `store` when it was built before; a trie built
    here is written by the background writer (the write is about 8 ms of CPU on SmolLM2's
    vocabulary, which the first mask of a cold process would otherwise wait for; the trie's
    arrays are never changed after it is built)."""
    key = _key("trie", core_fingerprint(), vocabulary.fingerprint)
    arrays = _quietly(lambda: store.get_arrays("trie", key))
    if arrays is not None:
        try:
            return TokenTrie.from_arrays(vocabulary, arrays)
        except ValueError:
            pass
    trie = TokenTrie(vocabulary)
    arrays = trie.to_arrays()
    _WRITER.submit(lambda: store.put_arrays("trie", key, arrays))
    return trie


# --- automata and token indexes --------------------------------------------------------------

class PersistentIndex(TokenIndex):
    """A `TokenIndex` that takes entries from the stored ones on first use and saves what it
    computes.

    `restored` counts entries taken from the store, `walks` entries computed here.
    """

    def __init__(self, automaton: Automaton, vocabulary: Vocabulary, width: int | None,
                 store: Store, record_key: str):
        super().__init__(automaton, vocabulary, width)
        self.store = store
        self.record_key = record_key
        self.restored = 0
        self.walks = 0
        self._stored: snapshot.EntryTable | None = None  # the entries read when opened
        self._row_of = _NO_ROWS  # automaton state -> its row in `_stored`, -1 where none
        self._to_local: np.ndarray | None = None  # record state -> automaton state (None: same)
        self._unsaved: list[int] = []  # states whose entries were computed here, not stored yet
        self._saved = (0, 0)  # `_progress()` when the automaton was last saved or loaded
        self._replace = False  # the stored record was rejected: overwrite it, do not merge
        self._save_due = False  # set with `_unsaved`: a save should be queued
        with _OPEN_LOCK:
            _OPEN.add(self)

    def _make_trie(self, vocabulary: Vocabulary) -> TokenTrie:
        return cached_trie(vocabulary, self.store)

    def entry(self, state: int) -> StateEntry:
        found = super().entry(state)
        if self._save_due:  # set by `_compute`, cleared when the new entries change hands
            save_now(self)
        return found

    def _compute(self, state: int) -> StateEntry:
        """The stored entry of `state`, else a computed one (under the index's lock)."""
        loaded = _quietly(lambda: self._load_entry(state))
        if loaded is not None:
            self.restored += 1
            return self.entry_of(*loaded)
        found = super()._compute(state)
        self.walks += 1
        self._unsaved.append(state)
        unsaved = len(self._unsaved)
        saved = self.walks - unsaved
        self._save_due = unsaved >= max(1, min(saved, max(SAVE_EVERY, saved // 2)))
        return found

    def restore(self, record: tuple[snapshot.Snapshot, snapshot.EntryTable] | None, *,
                made_from: bool = False) -> None:
        """Add a stored record's states and rows to the automaton and keep its entries for the
        states met later. None, or a snapshot that does not fit, means the stored record was
        rejected: its entries are computed again and the next save writes over it.
        `made_from`: the automaton was made from this snapshot (`Automaton.from_saved`), so
        it holds its states already, with the same numbers."""
        try:
            if record is None or not (made_from or record[0].fits(self.automaton)):
                raise ValueError("the record is of another pattern")
            saved, table = record
            if not made_from:  # else its states are the automaton's already
                local = self.automaton.restore(saved.key_flat, saved.key_ends, saved.rows,
                                               saved.expanded, accepting=saved.accepting)
        except ValueError:  # PatternTooComplex (too many states to add) is one too
            self._replace = True
            return
        self._stored, self._row_of = table, table.row_of
        if not made_from:
            self._to_local = local
            self._row_of = np.full(int(local.max()) + 1, -1, dtype=np.int32)
            self._row_of[local] = table.row_of
        self._saved = self._progress()

    def save(self) -> bool:
        """Store the entries computed here and merge the automaton's states and rows into the
        store now, after any writes still queued; False if there was nothing new."""
        write = self._take_unsaved()
        flush()
        return write is not None and write()

    def _take_unsaved(self) -> Callable[[], bool] | None:
        """What is not saved yet, taken now (the automaton keeps changing: its snapshot is a
        copy; entries are immutable), as a job that packs it and writes it to the store (run by
        the background writer, so packing costs a step nothing); None if there is nothing
        new."""
        with self._lock:  # what is new changes hands here; packing it needs no lock
            fresh, self._unsaved, self._save_due = self._unsaved, [], False
            found = [(state, self._entries[state]) for state in fresh]
            with self.automaton.lock:  # states and rows as of one moment, after the entries'
                progress = self._progress()
                if not found and progress == self._saved and not self._replace:
                    return None
                arrays, replace = snapshot.take(self.automaton), self._replace
                self._saved, self._replace = progress, False
        entries = [(state, e.bits, e.next_states, e.token_ids) for state, e in found]
        store, key, max_states = self.store, self.record_key, self.automaton.max_states
        vocab_size = self.vocabulary.size

        def write() -> bool:  # packed here, on the writer: the snapshot and entries are fixed
            record = snapshot.pack_record(arrays, entries, vocab_size)
            if replace:
                store.put_arrays("pattern", key, record)
            else:
                store.merge_arrays("pattern", key, record,
                                   lambda old, new: snapshot.merge_record(old, new, max_states))
            return True

        return write

    def preload(self) -> int:
        """Take now the stored entry of every state the automaton knows and this index has no
        entry for (nothing is computed); returns how many were taken. A process serving
        patterns from a warmed cache folder calls it at compile time (`Guide.preload`)."""
        loaded = 0
        with self._lock:
            for state in range(self.automaton.num_states):
                if state == DEAD or state in self._entries:
                    continue
                found = _quietly(lambda: self._load_entry(state))
                if found is not None:
                    self._entries[state] = self.entry_of(*found)
                    loaded += 1
            self.restored += loaded
        return loaded

    def _load_entry(self, state: int) -> tuple[np.ndarray, np.ndarray | None,
                                               np.ndarray | None] | None:
        """(bits, token_ids, next_states) of the stored entry of `state`, or None; the states
        its tokens lead to are given the token's bytes as their way in (`Automaton.ways_in`)."""
        table, rows = self._stored, self._row_of
        row = int(rows[state]) if state < len(rows) else -1
        if table is None or row < 0:
            return None
        bits, token_ids, targets = table.unpack(row, self.vocabulary.size)
        if targets is None:
            return bits, None, None
        if self._to_local is not None:
            targets = self._to_local[targets]
        distinct, first = np.unique(targets, return_index=True)
        vocabulary = self.vocabulary
        self.automaton.ways_in(distinct.tolist(), [
            (state, vocabulary.bytes_of(t)) for t in token_ids[first].tolist()])
        return bits, token_ids, targets

    def _progress(self) -> tuple[int, int]:
        a = self.automaton
        return a.num_states, int(a.expanded[:a.num_states].sum())


def open_index(store: Store, pattern: str, flags: int, max_states: int,
               make_expr: Callable[[], Expr], automaton: Automaton | None,
               vocabulary: Vocabulary, width: int | None) -> PersistentIndex:
    """The token index of a pattern for `vocabulary`, with what `store` knows restored.

    `automaton` is the pattern's automaton if this process has one; otherwise it is restored from
    the store (its expression built by `make_expr` only when needed) or built with `make_expr`
    now. `pattern` is any text naming the language (pattern text, or a schema's key).
    """
    key = _key("pattern", core_fingerprint(), _pattern_digest(pattern), flags, max_states,
               vocabulary.fingerprint)
    arrays = _quietly(lambda: store.get_arrays("pattern", key, views=True))
    record = None if arrays is None else _quietly(lambda: _parsed(arrays, vocabulary))
    restored = automaton is None and record is not None
    if restored:
        automaton = _quietly(lambda: _saved_automaton(record[0], make_expr, max_states, pattern))
        restored = automaton is not None
    if automaton is None:
        automaton = Automaton(make_expr(), max_states=max_states, pattern=pattern)
    index = PersistentIndex(automaton, vocabulary, width, store, key)
    if arrays is not None:
        _quietly(lambda: index.restore(record, made_from=restored))
    return index


def _parsed(arrays: snapshot.Arrays, vocabulary: Vocabulary
            ) -> tuple[snapshot.Snapshot, snapshot.EntryTable] | None:
    try:
        return snapshot.parse_record(arrays, vocabulary.size, unusable_bits_of(vocabulary))
    except ValueError:
        return None


def _saved_automaton(saved: snapshot.Snapshot, make_expr: Callable[[], Expr],
                     max_states: int, pattern: str) -> Automaton | None:
    """The automaton of a snapshot, its states numbered as saved (None: the snapshot does not
    make one, e.g. past `max_states`)."""
    try:
        return Automaton.from_saved(saved.byte_class, saved.initial, saved.state_keys(),
                                    saved.rows, saved.expanded, saved.accepting, make_expr,
                                    max_states=max_states, pattern=pattern, checked=True)
    except ValueError:  # PatternTooComplex is one too
        return None


def save_now(index: PersistentIndex) -> None:
    """Queue a write of what `index` has computed and not saved yet (never raises)."""
    write = _quietly(index._take_unsaved)
    if write is not None:
        _WRITER.submit(write)


def save_all() -> None:
    """Save every open index that has something new and wait for every queued write (also run
    at interpreter exit)."""
    with _OPEN_LOCK:
        indexes = list(_OPEN)
    for index in indexes:
        save_now(index)
    flush()


def flush() -> None:
    """Wait until every write queued so far is in the store."""
    _WRITER.flush()


_NO_ROWS = np.full(0, -1, dtype=np.int32)
_OPEN: weakref.WeakSet[PersistentIndex] = weakref.WeakSet()
_OPEN_LOCK = threading.Lock()  # a WeakSet may not change while it is listed
atexit.register(save_all)


# --- schema -> regex -------------------------------------------------------------------------

def cached_to_regex(schema: Any, store: Store | None, **options: Any) -> str:
    """`schema2re.to_regex(schema, **options)`, loaded from `store` when it was made before.

    The key is the schema document's compact JSON with its key order kept (the translation
    follows `properties` order, so sorting keys would merge schemas that translate differently)
    plus the options. Translations that emit warnings (e.g. `lenient=True` ignoring keywords) are
    not stored, so their warnings are emitted every time; errors propagate as from `to_regex`.
    """
    import schema2re
    from schema2re.inputs import load_schema

    document = load_schema(schema)
    fingerprint = schema2re_fingerprint()
    text = _document_text(document)
    key = None if fingerprint is None or text is None else _schema_key(fingerprint, options, text)
    if store is None or key is None:
        return schema2re.to_regex(document, **options)
    stored = _quietly(lambda: store.get_json("schema2re", key))
    if isinstance(stored, str):
        return stored
    with noting_warnings() as noted:
        result = schema2re.to_regex(document, **options)
    if not noted:
        _WRITER.submit(lambda: store.put_json("schema2re", key, result))
    return result


def _translation_options(options: dict[str, Any]) -> list[tuple[str, Any]]:
    """`options` over the translators' keyword defaults, sorted: a translation gets one key
    whether its defaults are passed (as `generate` does) or left out (as `compile` does)."""
    return sorted({**_translation_defaults(), **options}.items())


@functools.cache
def _translation_defaults() -> dict[str, Any]:
    """The keyword arguments of `schema2re.to_expression` (and `to_regex`) and their defaults."""
    import schema2re

    return {name: parameter.default for name, parameter
            in inspect.signature(schema2re.to_expression).parameters.items()
            if parameter.kind is parameter.KEYWORD_ONLY}


def cached_schema_language(schema: Any, store: Store | None, **options: Any) -> Language:
    """The `Language` of `schema2re.to_expression(document, **options)`, named by the schema;
    `schema` is anything `schema2re.inputs.load_schema` reads (its document is translated).

    The name is the key `cached_to_regex` uses (`_schema_key`: schema JSON in its key order,
    options, the translator's code fingerprint, the process's schema size and depth limits).
    Under that key ("schema_language") the outcome of the translation is recorded: the
    `IgnoredKeywordsWarning`s it emitted (none, usually), or its refusal (an
    `UnsupportedSchemaError` or `EmptyRangeError`: class, reason, keyword, pointer). A process
    sharing `store` that finds the record does not translate: it emits the recorded warnings
    again, or raises the recorded refusal again (the same class and message), and the guide
    comes from the disk cache, the expression built only if decoding meets a state the cache
    lacks. A `SchemaTooComplex` refusal (a budget spent: slow to reach, seconds for some
    schemas) is recorded with the expression-node, explored-derivative and derivative-step limits it was reached
    under and replayed only under those limits (the other budgets are constants of the code the
    key's fingerprint covers); under other limits the schema is translated again. A translation that emits
    another warning or fails otherwise is not recorded: it happens every time, so that its
    errors and warnings come from it.

    A document given as a dict or bool is looked up by its JSON text; `load_schema`'s check
    walk then runs only in the translation (on a miss, or when the text does not read back as
    the document: a tuple, a non-string key). A record is only written for a document that
    passed the walk, and what the walk checks (JSON values, size, depth under the limits in the
    key) is a function of that text.
    """
    import schema2re
    from schema2re.inputs import load_schema

    fingerprint = schema2re_fingerprint()
    document = schema if isinstance(schema, (dict, bool)) else load_schema(schema)
    text = _document_text(document)
    key = None if fingerprint is None or text is None else _schema_key(fingerprint, options, text)
    record = None if store is None or key is None else \
        _quietly(lambda: store.get_json("schema_language", key))
    if record is not None and document is schema and json.loads(text) != document:
        record = None  # not this document's: the translation's check walk refuses it

    def translate() -> Expr:
        return schema2re.to_expression(document, **options)

    if store is None or key is None:
        expression = translate()
        return Language(f"expression:{expression.fingerprint}", lambda: expression)
    if _replayed(record):
        return Language(key, translate)
    with noting_warnings() as noted:
        try:
            expression = translate()
        except schema2re.UnsupportedSchemaError as exc:
            refusal = _refusal_record(exc)
            if refusal is not None:
                _WRITER.submit(lambda: store.put_json("schema_language", key, {"refused": refusal}))
            raise
    if all(isinstance(w, schema2re.IgnoredKeywordsWarning) for w in noted):
        texts = [str(w) for w in noted]
        _WRITER.submit(lambda: store.put_json("schema_language", key, {"warnings": texts}))
    return Language(key, lambda: expression)


def _document_text(document: Any) -> str | None:
    """A schema document's compact JSON text, keys in their order (None: it has none, such as
    NaN or a value of another type; `load_schema` then says what is wrong)."""
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None


def _schema_key(fingerprint: str, options: dict[str, Any], text: str) -> str | None:
    """The key of a translation of the document whose JSON is `text` (see
    `cached_schema_language`), or None for options that are not JSON (the translator judges
    them)."""
    bounds = limits.current()
    memo = _head_memo_key(fingerprint, options, bounds)
    head = None if memo is None else _SCHEMA_HEADS.get(memo)
    if head is None:
        try:
            head = _key("schema2re", fingerprint, _translation_options(options),
                        [bounds.schema_bytes, bounds.schema_depth])
        except (TypeError, ValueError):
            return None
        if memo is not None and len(_SCHEMA_HEADS) < _SCHEMA_HEADS_KEPT:
            _SCHEMA_HEADS[memo] = head
    return head + "\n" + text  # the head's JSON holds no newline


_SCALARS = (str, int, bool, type(None))
_SCHEMA_HEADS: dict[tuple, str] = {}  # `_head_memo_key` -> the head of `_schema_key`
_SCHEMA_HEADS_KEPT = 256  # a process uses a handful of option sets; past this, none is kept


def _head_memo_key(fingerprint: str, options: dict[str, Any], bounds: limits.Limits
                   ) -> tuple | None:
    """What a schema key's head is a function of, as a memo key; None unless every option is a
    str, int, bool or None (each kept with its type: True and 1 are equal in Python, not in
    JSON; a float is never kept, as 0.0 and -0.0 are equal but written differently)."""
    if not all(type(value) in _SCALARS for value in options.values()):
        return None
    return (fingerprint, bounds.schema_bytes, bounds.schema_depth,
            *((name, type(value), value) for name, value in options.items()))


def _replayed(record: object) -> bool:
    """Emit the warnings, or raise the refusal, of a recorded translation; False (nothing
    done) for anything that is not such a record."""
    from schema2re.errors import IgnoredKeywordsWarning

    if not isinstance(record, dict):
        return False
    refused, texts = record.get("refused"), record.get("warnings")
    if refused is not None:
        error = _refusal_error(refused)
        if error is None:
            return False
        raise error
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        return False
    for text in texts:
        warnings.warn(text, IgnoredKeywordsWarning, stacklevel=3)  # cached_schema_language's caller
    return True


def _refusals() -> dict[str, type]:
    """The translation errors whose record is a function of the schema and options (and, for
    `SchemaTooComplex`, of the limits in `_budget`) alone."""
    from schema2re.errors import EmptyRangeError, SchemaTooComplex, UnsupportedSchemaError

    return {cls.__name__: cls for cls in (UnsupportedSchemaError, EmptyRangeError,
                                          SchemaTooComplex)}


def _budget(cls: type) -> list[int] | None:
    """The limits a refusal of class `cls` was reached under (None: it depends on none)."""
    from schema2re.errors import SchemaTooComplex

    if cls is not SchemaTooComplex:
        return None
    bounds = limits.current()
    return [bounds.expr_nodes, bounds.explored_derivatives, bounds.derivative_steps]


def _refusal_record(exc: Exception) -> dict | None:
    """What `_refusal_error` raises `exc` again from, or None when it could not say the same."""
    if type(exc) not in _refusals().values():
        return None
    record = {"class": type(exc).__name__, "reason": exc.reason, "keyword": exc.keyword,
              "pointer": exc.pointer, "ignorable": exc.ignorable, "budget": _budget(type(exc))}
    again = _refusal_error(record)
    return record if again is not None and str(again) == str(exc) else None


def _refusal_error(record: object) -> Exception | None:
    """The error a refusal record stands for, or None when it is not one."""
    if not isinstance(record, dict):
        return None
    cls = _refusals().get(record.get("class"))
    reason, keyword, pointer = record.get("reason"), record.get("keyword"), record.get("pointer")
    ignorable = record.get("ignorable")
    if cls is None or not isinstance(reason, str) or not isinstance(pointer, str) \
            or not isinstance(keyword, (str, type(None))) or not isinstance(ignorable, bool) \
            or record.get("budget") != _budget(cls):
        return None
    return cls(reason, keyword, pointer, ignorable=ignorable)


# --- failure containment ---------------------------------------------------------------------

_WARNED = False
_WARNED_LOCK = threading.Lock()  # threads failing together still warn once


def _quietly(action: Callable[[], Any]) -> Any:
    """`action()`, or None after reporting an unexpected error in it (`_report`)."""
    try:
        return action()
    except Exception as exc:  # the cache must never break compiling or decoding
        _report(exc)
        return None


def _report(exc: BaseException) -> None:
    """Warn about a cache error with a `CacheWarning`, once per process."""
    global _WARNED
    with _WARNED_LOCK:
        first, _WARNED = not _WARNED, True
    if first:
        warnings.warn(f"typedecode cache: {type(exc).__name__}: {exc}; continuing without "
                      "the cached value (further cache errors are not reported)",
                      CacheWarning, stacklevel=3)


# Writes computed entries and automaton snapshots off the decoding path, in order.
_WRITER = BackgroundWriter(_report, name="typedecode-cache")
