"""The decoding core's disk cache (decoding.persist.cached, decoding.persist.snapshot, TokenTrie arrays, restored
automata): warm starts give bit-identical masks and transitions, later processes reuse what earlier
ones computed (also across real processes, concurrently), bad entries are rebuilt, the cache can
be turned off, and version or code changes ignore old entries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import unicodedata
import warnings
import weakref
import zlib
from pathlib import Path

import numpy as np
import pytest
import regex
from tokenizers import decoders

import cache.store as store_mod
import decoding.guides.guide as guide_mod
import decoding.tokens.trie as trie_mod
from cache import CacheWarning
from cache.location import ENV_VAR
from decoding import limits
from decoding.automaton.dfa import KEY_WIDTH, Automaton, RestoreMismatch
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from decoding.persist import cached as persist
from decoding.persist import snapshot
from decoding.tokens import bits as packed
from decoding.tokens.index import TokenIndex
from decoding.tokens.trie import TokenTrie
from decoding.tokens.vocabulary import UnmappableTokensWarning, Vocabulary, token_strings
from decoding.util import LRU, warn

ROOT = Path(__file__).resolve().parents[3]

# Patterns allow a leading space: SentencePiece encodes the start of a text with one.
OBJECT = r' ?\{"name": ?"[^"\\]*", ?"tags": ?\[("[a-z]+"(, ?"[a-z]+")*)?\]\}'
OBJECT_TEXTS = ['{"name": "Zoë 東京 🚀", "tags": ["alpha", "beta"]}', '{"name":"","tags":[]}']
ANSWER = r" ?(?i)(yes|no|maybe) [0-9]{1,3}(\.[0-9]+)?"
ANSWER_TEXTS = ["Maybe 42.5", "no 7"]


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """Call to make this process look new: empty in-process memos and store instances. Indexes
    made in a test are not saved at interpreter exit, and what a test queued is written before
    its patches are undone (else a write queued under a patched format version lands in the
    next test)."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(persist, "_OPEN", weakref.WeakSet())

    def reset() -> None:
        persist.flush()  # what the old "process" queued is written before it ends
        monkeypatch.setattr(guide_mod, "_AUTOMATA", LRU(guide_mod._MEMO_SIZE))
        monkeypatch.setattr(guide_mod, "_INDEXES", LRU(guide_mod._MEMO_SIZE))
        monkeypatch.setattr(guide_mod, "_VOCABULARIES", {})
        monkeypatch.setattr(trie_mod, "_TRIES", {})
        monkeypatch.setattr(store_mod, "_STORES", {})

    reset()
    yield reset
    persist.flush()


def walk(guide, tokenizer, texts, by_key: bool = False) -> list[tuple]:
    """Everything the guide says along the tokens of each text: state, accepting, mask, ids and
    next states (with dtypes). With `by_key`, states are given by key, not by number (a process
    that rebuilt the automaton numbers states in its own discovery order)."""
    def name(state):
        return guide.automaton.key(state) if by_key else state

    out = []
    for text in texts:
        state = guide.initial_state
        for token in [*tokenizer.encode(text, add_special_tokens=False), None]:
            entry = guide.index.entry(state)
            nxt = (None if entry.next_states is None  # not computed: lexeme tables, mask class
                   else tuple(map(name, entry.next_states.tolist())) if by_key
                   else entry.next_states.tobytes())
            mask, ids = guide.allowed_tokens(state), guide.allowed_token_ids(state)
            out.append((name(state), guide.is_accepting(state), mask.dtype, mask.numpy().tobytes(),
                        ids.dtype.str, ids.tobytes(), entry.bits.tobytes(),
                        entry.next_states is not None and entry.next_states.dtype.str, nxt))
            if token is not None:
                state = guide.advance(state, token)
        assert guide.is_accepting(state), text
    return out


def stored(cache_dir, kind: str) -> list[str]:
    """The store keys of this format version holding entries of `kind` (queued writes done)."""
    persist.flush()
    backend = store_mod.get_store(cache_dir)._backend
    return [k for k in backend.iterkeys() if f"/{kind}/" in k]


# -- warm equals cold ------------------------------------------------------------------------

@pytest.mark.parametrize("tok_name", ["bpe_tokenizer", "sp_tokenizer", "smollm2_tokenizer"])
def test_warm_start_is_bit_identical_and_computes_nothing(request, tmp_path, fresh, tok_name):
    tokenizer = request.getfixturevalue(tok_name)
    cases = [(OBJECT, OBJECT_TEXTS), (ANSWER, ANSWER_TEXTS)]
    reference = [walk(decoding_compile(p, tokenizer, False), tokenizer, t) for p, t in cases]
    fresh()
    cold = [decoding_compile(p, tokenizer, tmp_path) for p, _ in cases]
    assert [walk(g, tokenizer, t) for g, (_, t) in zip(cold, cases)] == reference
    assert all(g.index.walks > 0 and g.index.restored == 0 for g in cold)
    for g in cold:
        g.save()
    fresh()
    warm = [decoding_compile(p, tokenizer, tmp_path) for p, _ in cases]
    assert [walk(g, tokenizer, t) for g, (_, t) in zip(warm, cases)] == reference
    for g, c in zip(warm, cold):
        assert g.index.walks == 0 and g.index.restored == c.index.walks
        assert not g.automaton.expression_built
        assert g.vocabulary._token_bytes is None  # no table of every token's bytes was made
    hits = store_mod.get_store(tmp_path).info()["hits"]
    # One read a pattern; no trie: nothing is computed, so no trie is needed.
    expected = {"vocabulary": 1, "pattern": 2}
    if persist.tokenizer_stamp(tokenizer) is not None:  # loaded from a folder: found by stamp
        expected["vocabulary_stamp"] = 1
    assert hits == expected


def decoding_compile(pattern, tokenizer, cache_dir, **options):
    return guide_mod.compile(pattern, tokenizer, cache_dir=cache_dir, **options)


def test_saves_as_entries_are_computed_without_explicit_save(bpe_tokenizer, tmp_path, fresh):
    guide = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
    assert stored(tmp_path, "pattern") == []
    guide.allowed_tokens(guide.initial_state)  # the first entry is queued for writing at once
    persist.flush()
    assert len(stored(tmp_path, "pattern")) == 1
    arrays = store_mod.get_store(tmp_path).get_arrays("pattern", guide.index.record_key)
    saved, table = snapshot.parse_record(arrays, guide.vocabulary.size,
                                         trie_mod.unusable_bits_of(guide.vocabulary))
    assert saved.num_states == guide.automaton.num_states
    assert table.state.tolist() == [guide.initial_state]
    assert not guide.index.save()  # nothing new since


def test_warm_process_extends_what_it_loaded_and_merges_back(bpe_tokenizer, tmp_path, fresh):
    text = OBJECT_TEXTS[0]
    reference = walk(decoding_compile(OBJECT, bpe_tokenizer, False), bpe_tokenizer, [text])
    fresh()
    start = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
    start.allowed_tokens(start.initial_state)  # saved at once (first entry)
    fresh()
    partial = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
    got = walk(partial, bpe_tokenizer, [text])
    assert got == reference
    assert partial.index.restored == 1 and partial.index.walks > 0
    assert partial.automaton.expression_built  # met states whose rows were not saved
    persist.save_all()
    fresh()
    again = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
    assert walk(again, bpe_tokenizer, [text]) == reference
    assert again.index.walks == 0 and not again.automaton.expression_built


def test_merge_remaps_states_numbered_differently(bpe_tokenizer, tmp_path, fresh):
    first, second = OBJECT_TEXTS
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    walk(decoding_compile(OBJECT, bpe_tokenizer, a_dir), bpe_tokenizer, [first, second])
    persist.save_all()
    fresh()
    b = decoding_compile(OBJECT, bpe_tokenizer, b_dir)
    walk(b, bpe_tokenizer, [second])  # discovers states in another order
    b.save()
    a_arrays = store_mod.get_store(a_dir).get_arrays("pattern", b.index.record_key)
    b_arrays = store_mod.get_store(b_dir).get_arrays("pattern", b.index.record_key)
    parsed_a, parsed_b = snapshot.parse(a_arrays), snapshot.parse(b_arrays)
    assert parsed_a.keys() != parsed_b.keys()[:parsed_a.num_states]
    merged = snapshot.parse(snapshot.merge(b_arrays, a_arrays, 10_000))
    assert merged.keys()[:parsed_b.num_states] == parsed_b.keys()
    assert set(merged.keys()) == set(parsed_a.keys()) | set(parsed_b.keys())
    # Every merged row says what a cold automaton says, in terms of state keys.
    cold = _automaton(OBJECT)
    keys = merged.keys()
    in_cold = {merged.initial: cold.initial_state}  # merged index -> cold state, by walking
    queue = [merged.initial]
    for i in queue:
        if merged.expanded[i]:
            row = cold.expand(in_cold[i])
            assert [cold.key(t) for t in row] == [keys[t] for t in merged.rows[i]]
            for j, t in zip(merged.rows[i].tolist(), row.tolist()):
                if j not in in_cold:
                    in_cold[j] = t
                    queue.append(j)
    assert set(np.flatnonzero(merged.expanded)[1:].tolist()) <= set(in_cold)
    assert merged.expanded.sum() >= max(parsed_a.expanded.sum(), parsed_b.expanded.sum())
    # Over the state-count limit, the newer snapshot replaces the older one.
    assert snapshot.merge(b_arrays, a_arrays, merged.num_states) is not a_arrays
    assert snapshot.merge(b_arrays, a_arrays, merged.num_states - 1) is a_arrays


def test_wider_masks_reuse_the_same_entries(bpe_tokenizer, tmp_path, fresh):
    walk(decoding_compile(ANSWER, bpe_tokenizer, tmp_path), bpe_tokenizer, ANSWER_TEXTS)
    persist.save_all()  # what happens at interpreter exit
    fresh()
    size = guide_mod.vocabulary_of(bpe_tokenizer, cache_dir=False).size
    wide = decoding_compile(ANSWER, bpe_tokenizer, tmp_path, vocab_size=size + 64)
    walk(wide, bpe_tokenizer, ANSWER_TEXTS)
    assert wide.index.walks == 0 and wide.vocab_size == size + 64


# -- other processes ---------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import json, sys, time, hashlib
    from pathlib import Path
    from transformers import AutoTokenizer
    from decoding.persist import cached as persist
    from decoding.guides.guide import compile
    from cache.store import get_store

    tokenizer_dir, cache_dir, pattern, texts, ready, go = json.loads(sys.argv[1])
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    Path(ready).touch()
    deadline = time.time() + 240
    while not Path(go).exists() and time.time() < deadline:  # children start together
        time.sleep(0.005)
    guide = compile(pattern, tokenizer, cache_dir=cache_dir)
    digest = hashlib.sha256()
    for text in texts:
        state = guide.initial_state
        for token in tokenizer.encode(text, add_special_tokens=False):
            digest.update(guide.allowed_tokens(state).numpy().tobytes())
            state = guide.advance(state, token)
        digest.update(guide.allowed_tokens(state).numpy().tobytes())
    info = get_store(cache_dir).info()
    print(json.dumps({"walks": guide.index.walks, "restored": guide.index.restored,
                      "expression_built": guide.automaton.expression_built, "hits": info["hits"],
                      "digest": digest.hexdigest(), "core": persist.core_fingerprint()}))
    # no explicit save: the index saves as it grows and at exit
""")


def _children(tmp_path, bpe_tokenizer, jobs: list[tuple[str, list[str]]]) -> list[dict]:
    tokenizer_dir = tmp_path / "tokenizer"
    if not tokenizer_dir.exists():
        bpe_tokenizer.save_pretrained(tokenizer_dir)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    go = tmp_path / f"go{time.monotonic_ns()}"
    ready = [go.with_name(f"{go.name}-ready{i}") for i in range(len(jobs))]
    procs = [subprocess.Popen(
        [sys.executable, "-c", _CHILD,
         json.dumps([str(tokenizer_dir), str(tmp_path / "cache"), p, t, str(r), str(go)])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for (p, t), r in zip(jobs, ready)]
    deadline = time.time() + 240
    while not all(r.exists() for r in ready) and time.time() < deadline \
            and all(proc.poll() is None for proc in procs):
        time.sleep(0.01)
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "typedecode cache:" not in err, err  # e.g. its store fell back to memory
        results.append(json.loads(out.strip().splitlines()[-1]))
    # Entry and automaton keys hold the fingerprint of the decoding core's source: a child that
    # imported other source than this process (a core module edited or reinstalled since this
    # process imported it) shares no key with it, and every check of what it stored fails.
    if {r["core"] for r in results} != {persist.core_fingerprint()}:
        pytest.fail("the decoding core's source changed while the tests ran (saved edits or a "
                    "reinstall): children and this process use different cache keys; rerun")
    return results


def test_second_process_reuses_vocabulary_trie_and_entries(bpe_tokenizer, tmp_path):
    (cold,) = _children(tmp_path, bpe_tokenizer, [(OBJECT, OBJECT_TEXTS)])
    (warm,) = _children(tmp_path, bpe_tokenizer, [(OBJECT, OBJECT_TEXTS)])
    assert cold["walks"] > 0 and cold["restored"] == 0 and cold["hits"] == {}
    assert warm["walks"] == 0 and warm["restored"] == cold["walks"] and not warm["expression_built"]
    # The child loads the tokenizer from a folder, so its table is found through the stamp;
    # it computes no entry, so it needs no trie.
    assert warm["hits"] == {"vocabulary_stamp": 1, "vocabulary": 1, "pattern": 1}
    assert warm["digest"] == cold["digest"]
    # A process that computes entries (a new pattern) reads the trie instead of building it.
    (other,) = _children(tmp_path, bpe_tokenizer, [(ANSWER, ANSWER_TEXTS)])
    assert other["walks"] > 0 and other["hits"]["trie"] == 1


def test_concurrent_processes_with_same_and_different_patterns_merge(bpe_tokenizer, tmp_path,
                                                                      fresh):
    first, second = OBJECT_TEXTS
    jobs = [(OBJECT, [first]), (OBJECT, [second]), (ANSWER, ANSWER_TEXTS)]
    results = _children(tmp_path, bpe_tokenizer, jobs)
    assert all(r["walks"] > 0 for r in results)
    for pattern, texts in [(OBJECT, OBJECT_TEXTS), (ANSWER, ANSWER_TEXTS)]:
        reference = walk(decoding_compile(pattern, bpe_tokenizer, False), bpe_tokenizer, texts,
                         by_key=True)
        fresh()
        warm = decoding_compile(pattern, bpe_tokenizer, tmp_path / "cache")
        got = walk(warm, bpe_tokenizer, texts, by_key=True)
        assert got == reference
        assert warm.index.walks == 0, pattern  # everything came from the three children
        assert not warm.automaton.expression_built


# -- bad entries, cache off, versions ----------------------------------------------------------

def _flip_last_byte(cache_dir, kind: str) -> None:
    backend = store_mod.get_store(cache_dir)._backend
    keys = stored(cache_dir, kind)
    assert keys, kind
    for key in keys:
        blob = backend.get(key)
        backend.set(key, blob[:-1] + bytes([blob[-1] ^ 0x01]))


@pytest.mark.parametrize("kind", ["vocabulary", "trie", "pattern"])
def test_corrupt_entry_is_rebuilt(bpe_tokenizer, tmp_path, fresh, kind):
    # The trie is read by a process that computes entries: one meeting a pattern not seen yet.
    pattern, texts = (ANSWER, ANSWER_TEXTS) if kind == "trie" else (OBJECT, OBJECT_TEXTS)
    walk(decoding_compile(OBJECT, bpe_tokenizer, tmp_path), bpe_tokenizer, OBJECT_TEXTS)
    reference = walk(decoding_compile(pattern, bpe_tokenizer, False), bpe_tokenizer, texts,
                     by_key=True)
    persist.save_all()
    _flip_last_byte(tmp_path, kind)
    fresh()
    with pytest.warns(CacheWarning, match=f"corrupt '{kind}' entry"):
        guide = decoding_compile(pattern, bpe_tokenizer, tmp_path)
        assert walk(guide, bpe_tokenizer, texts, by_key=True) == reference
    assert (guide.index.walks > 0) == (kind in ("pattern", "trie"))
    persist.save_all()
    fresh()
    again = decoding_compile(pattern, bpe_tokenizer, tmp_path)  # the rebuilt entry is used
    assert walk(again, bpe_tokenizer, texts, by_key=True) == reference
    assert again.index.walks == 0


def _rewrite(cache_dir, kind: str, change) -> None:
    """Store a changed copy of each `kind` entry under its own key, with a valid checksum."""
    backend = store_mod.get_store(cache_dir)._backend
    for skey in stored(cache_dir, kind):
        payload = store_mod.unframe(backend.get(skey), store_mod.FORMAT_VERSION, b"a", kind, skey)
        arrays = store_mod.decode_arrays(payload)
        try:
            arrays = change(arrays)
        except KeyError:  # an entry without next states (`bits` alone) has nothing to break here
            continue
        backend.set(skey, store_mod._frame(kind, b"a", skey, store_mod.encode_arrays(arrays)))


def _allow_a_special_token(arrays):
    arrays["bits"][:, 0] |= 0x01  # token 0: <s>, special
    arrays["ids"][0] = 0  # the first listed token of the first entry that lists any
    return arrays


def _link_to(target):
    """A change linking every linked token to the state `target(arrays)` names."""
    def change(arrays):
        linked = arrays["next"] >= 0
        assert linked.any()
        return {**arrays, "next": np.where(linked, target(arrays), -1).astype(np.int32)}
    return change


@pytest.mark.parametrize("kind, change", [
    ("pattern", lambda a: {**a, "rows": np.full_like(a["rows"], len(a["key_ends"]))}),
    ("pattern", lambda a: {**a, "key_ends": a["key_ends"] + 1}),
    ("pattern", lambda a: {**a, "key_flat": np.full_like(a["key_flat"], -1)}),
    ("pattern", lambda a: {k: v for k, v in a.items() if k != "rows"}),
    ("pattern", _allow_a_special_token),
    ("pattern", _link_to(lambda a: len(a["key_ends"]))),  # past the states
    ("pattern", _link_to(lambda a: 0)),  # to the dead state
    ("pattern", lambda a: {**a, "entry_ends": a["entry_ends"] * 0}),
    ("pattern", lambda a: {**a, "ids": a["ids"][:-1]}),
    ("pattern", lambda a: {**a, "ids": a["ids"][::-1].copy()}),
    ("pattern", lambda a: {**a, "entry_state": np.ones_like(a["entry_state"])}),  # repeated
    ("pattern", lambda a: {**a, "entry_state": np.full_like(a["entry_state"],
                                                             len(a["key_ends"]))}),
    ("pattern", lambda a: {k: v for k, v in a.items() if k != "linked"}),
    ("trie", lambda a: {**a, "parent": np.zeros_like(a["parent"])}),
    ("vocabulary", lambda a: {**a, "lengths": a["lengths"] + 1}),
    ("vocabulary", lambda a: {**a, "special": a["special"].astype(np.int32)}),
    ("vocabulary", lambda a: {k: v for k, v in a.items() if k != "fingerprint"}),
    ("vocabulary", lambda a: {**a, "fingerprint": np.asarray(["not a fingerprint"])}),
])
def test_well_framed_but_invalid_entry_is_rebuilt_and_overwritten(bpe_tokenizer, tmp_path,
                                                                   fresh, kind, change):
    reference = walk(decoding_compile(OBJECT, bpe_tokenizer, tmp_path), bpe_tokenizer,
                     OBJECT_TEXTS, by_key=True)
    persist.save_all()
    _rewrite(tmp_path, kind, change)
    fresh()
    guide = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
    assert walk(guide, bpe_tokenizer, OBJECT_TEXTS, by_key=True) == reference
    assert (guide.index.walks > 0) == (kind == "pattern")
    guide.save()
    fresh()
    again = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
    assert walk(again, bpe_tokenizer, OBJECT_TEXTS, by_key=True) == reference
    assert again.index.walks == 0


def test_a_snapshot_row_outside_the_states_is_rejected():
    from decoding.automaton.dfa import indexes_below

    arrays = snapshot.take(_automaton(OBJECT))
    n = len(arrays["key_ends"])
    assert arrays["rows"].dtype == np.uint8  # up to 256 states: a byte a target
    rows = arrays["rows"].copy()
    rows[-1, -1] = n
    with pytest.raises(ValueError, match="inconsistent"):
        snapshot.parse({**arrays, "rows": rows})
    with pytest.raises(ValueError, match="dtype"):  # wider than their count needs
        snapshot.parse({**arrays, "rows": arrays["rows"].astype(np.int32)})
    assert indexes_below(np.array([0, n - 1]), n) and not indexes_below(np.array([0.0]), n)
    assert indexes_below(np.zeros((0, 3), dtype=np.int32), 1)


@pytest.mark.parametrize("how", ["argument", "env"])
def test_cache_off_writes_nothing(bpe_tokenizer, tmp_path, monkeypatch, how):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if how == "env":
        monkeypatch.setenv(ENV_VAR, "off")
    guide = decoding_compile(OBJECT, bpe_tokenizer, False if how == "argument" else None)
    walk(guide, bpe_tokenizer, OBJECT_TEXTS)
    guide.save()
    assert type(guide.index) is TokenIndex
    assert persist.store_for(False if how == "argument" else None) is None
    assert not any(tmp_path.rglob("*"))


def test_default_location_follows_the_environment(bpe_tokenizer, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env-cache"))
    walk(decoding_compile(ANSWER, bpe_tokenizer, None), bpe_tokenizer, ANSWER_TEXTS)
    assert stored(tmp_path / "env-cache", "pattern")


@pytest.mark.parametrize("bump", ["persist", "store", "code"])
def test_version_or_code_change_ignores_old_entries(bpe_tokenizer, tmp_path, fresh, monkeypatch,
                                                    bump):
    walk(decoding_compile(ANSWER, bpe_tokenizer, tmp_path), bpe_tokenizer, ANSWER_TEXTS)
    fresh()
    if bump == "persist":
        monkeypatch.setattr(persist, "PERSIST_VERSION", persist.PERSIST_VERSION + 1)
    elif bump == "store":
        monkeypatch.setattr(store_mod, "FORMAT_VERSION", store_mod.FORMAT_VERSION + 1)
    else:
        monkeypatch.setattr(persist, "core_fingerprint", lambda: "edited source")
    guide = decoding_compile(ANSWER, bpe_tokenizer, tmp_path)
    walk(guide, bpe_tokenizer, ANSWER_TEXTS)
    assert guide.index.walks > 0 and guide.index.restored == 0
    assert store_mod.get_store(tmp_path).info()["hits"] == {}


def test_core_fingerprint_is_of_the_source_the_process_imported(tmp_path):
    # A core module saved (edited, reinstalled) after a process imported it: the process runs the
    # old code, so it must keep the old code's fingerprint and never store its values under the
    # new code's keys. Taken at first cache use, the fingerprint was of the new files.
    for package in ("decoding", "cache"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    files = persist._layer_files(tmp_path / "decoding" / layer for layer in persist._CORE_LAYERS)
    extra = [regex.__version__, unicodedata.unidata_version]
    imported = persist._fingerprint(files, extra)
    script = textwrap.dedent("""
        import sys, types
        from pathlib import Path
        package = types.ModuleType("decoding")  # the copy, without decoding/__init__'s imports
        package.__path__ = [str(Path("decoding").absolute())]
        sys.modules["decoding"] = package
        from decoding.persist import cached as persist
        assert Path(persist.__file__).parents[1] == Path(package.__path__[0])
        syntax = Path("decoding/automaton/syntax.py")
        syntax.write_text(syntax.read_text() + "\\n# saved after the import\\n")
        print(persist.core_fingerprint())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert persist._fingerprint(files, extra) != imported  # the edit is part of the fingerprint
    assert out.stdout.split()[-1] == imported


def test_unmappable_tokens_warning_is_repeated_on_warm_loads(bpe_tokenizer, tmp_path, fresh,
                                                             monkeypatch):
    build = Vocabulary.from_tokenizer

    def warning_build(tokenizer, tokens=None):  # emits as Vocabulary.from_tokenizer does
        warn("3 token(s) of 1260 could not be mapped", UnmappableTokensWarning)
        return build(tokenizer, tokens=tokens)

    monkeypatch.setattr(Vocabulary, "from_tokenizer", staticmethod(warning_build))
    with pytest.warns(UnmappableTokensWarning, match="3 token"):
        cold = guide_mod.vocabulary_of(bpe_tokenizer, cache_dir=tmp_path)
    fresh()
    monkeypatch.setattr(Vocabulary, "from_tokenizer", None)  # a warm load must not build
    with pytest.warns(UnmappableTokensWarning, match="3 token"):
        warm = guide_mod.vocabulary_of(bpe_tokenizer, cache_dir=tmp_path)
    assert warm.fingerprint == cold.fingerprint


def test_tokenizer_key_tracks_what_the_table_depends_on(make_bpe_tokenizer):
    a, b = make_bpe_tokenizer(), make_bpe_tokenizer()
    assert persist.tokenizer_key(a) == persist.tokenizer_key(b) is not None
    b.add_tokens(["<extra>"])
    assert persist.tokenizer_key(a) != persist.tokenizer_key(b)
    c = make_bpe_tokenizer()
    c.eos_token = "<pad>"
    assert persist.tokenizer_key(a) != persist.tokenizer_key(c)
    assert persist.tokenizer_key(object()) is None
    # The token strings, the decoder and the model's settings are in the key; the merges (how a
    # text is split, not what a token adds) are not.
    assert persist.tokenizer_key(a) != persist.tokenizer_key(make_bpe_tokenizer(vocab_size=1000))
    d = make_bpe_tokenizer()
    d.backend_tokenizer.decoder = decoders.Metaspace()
    assert persist.tokenizer_key(a) != persist.tokenizer_key(d)
    e = make_bpe_tokenizer()
    e.backend_tokenizer.model.byte_fallback = True
    assert persist.tokenizer_key(a) != persist.tokenizer_key(e)
    tokens = token_strings(a)
    assert persist.tokenizer_key(a, tokens) == persist.tokenizer_key(a)
    assert persist.tokenizer_key(a, [*tokens[:-1], "other"]) != persist.tokenizer_key(a)


def test_failing_store_never_breaks_compile(bpe_tokenizer, tmp_path, fresh, monkeypatch):
    reference = walk(decoding_compile(OBJECT, bpe_tokenizer, False), bpe_tokenizer, OBJECT_TEXTS)
    fresh()

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(persist, "_WARNED", False)
    for method in ("get_arrays", "put_arrays", "merge_arrays"):
        monkeypatch.setattr(store_mod.Store, method, broken)
    with pytest.warns(CacheWarning, match="disk on fire"):
        guide = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
        assert walk(guide, bpe_tokenizer, OBJECT_TEXTS) == reference


# -- restored automata and tries ---------------------------------------------------------------

def _automaton(pattern: str) -> Automaton:
    return Automaton(to_expr(parse(pattern)), pattern=pattern)


def test_restored_automaton_checks_its_expression_when_it_builds_it():
    source = _automaton("[a-c]+x")
    key = np.asarray(source.key(source.initial_state))
    other = lambda: to_expr(parse("[a-d]+x"))  # noqa: E731
    restored = Automaton.restored(source.byte_class, key, other)
    assert not restored.expression_built
    with pytest.raises(RestoreMismatch, match="differ"):
        restored.step(restored.initial_state, ord("a"))
    same = Automaton.restored(source.byte_class, key, lambda: to_expr(parse("[a-c]+x")))
    assert same.walk(same.initial_state, b"abcx") == source.walk(source.initial_state, b"abcx")
    with pytest.raises(ValueError):
        Automaton.restored(np.arange(256)[::-1], key, other)


def test_restored_states_find_their_expressions_by_the_saved_way_in():
    source = _automaton("[ab]c|[ab]d{1,9}")
    source.walk(source.initial_state, b"add")
    saved = snapshot.parse(snapshot.take(source))
    built = []
    restored = Automaton.restored(saved.byte_class, saved.initial_key(),
                                  lambda: built.append(1) or to_expr(parse("[ab]c|[ab]d{1,9}")))
    ids = restored.restore(saved.key_flat, saved.key_ends, saved.rows, saved.expanded,
                           accepting=saved.accepting)
    deep = restored.walk(restored.initial_state, b"add")  # rows all restored: no expression
    assert not built and restored.is_accepting(deep) and deep in ids.tolist()
    # A row that was not saved needs the state's expression: derived along the saved rows.
    assert restored.is_accepting(restored.walk(deep, b"ddd")) and built == [1]
    assert restored.key(restored.walk(deep, b"d")) == source.key(source.walk(
        source.initial_state, b"addd"))


def _from_saved(saved: snapshot.Snapshot, make, **options) -> Automaton:
    return Automaton.from_saved(saved.byte_class, saved.initial, saved.state_keys(), saved.rows,
                                saved.expanded, saved.accepting, make, **options)


def test_an_automaton_made_from_a_snapshot_numbers_states_as_saved_and_derives_the_rest():
    pattern = "[ab]c|[ab]d{1,9}"
    source = _automaton(pattern)
    source.walk(source.initial_state, b"add")
    saved = snapshot.parse(snapshot.take(source))
    built = []
    made = _from_saved(saved, lambda: built.append(1) or to_expr(parse(pattern)))
    assert made.num_states == source.num_states and made.initial_state == saved.initial
    assert [made.key(s) for s in range(made.num_states)] == saved.keys()
    assert made.accepting[:made.num_states].tolist() == saved.accepting.tolist()
    assert made.flat_keys()[0].tolist() == saved.key_flat.tolist()
    deep = made.walk(made.initial_state, b"add")  # saved rows: no expression needed
    assert not built and deep == source.walk(source.initial_state, b"add")
    assert made.rooted_states([made.key(deep)]) is None  # no way in worked out yet
    # A row that was not saved: the expression is derived along the saved rows, keys checked.
    assert made.is_accepting(made.walk(deep, b"ddd")) and built == [1]
    assert made.key(made.walk(deep, b"d")) == source.key(source.walk(source.initial_state,
                                                                      b"addd"))
    assert made.walk(made.initial_state, b"bc") == made.walk(made.initial_state, b"ac")
    # Looked up by key (its table made from the saved keys on first use), every state is its
    # own saved number, and one state more gets the next number.
    again = _from_saved(saved, lambda: to_expr(parse(pattern)), checked=True)
    assert again.restore(saved.key_flat, saved.key_ends, saved.rows, saved.expanded
                         ).tolist() == list(range(saved.num_states))
    assert again.walk(again.walk(again.initial_state, b"add"), b"d") == saved.num_states
    assert again.key(saved.num_states) == made.key(made.walk(deep, b"d"))


def test_an_automaton_is_not_made_from_malformed_saved_states():
    source = _automaton("[0-9]{1,4}")
    source.walk(source.initial_state, b"1234")
    saved = snapshot.parse(snapshot.take(source))
    make = lambda: to_expr(parse("[0-9]{1,4}"))  # noqa: E731
    keys, rows = saved.state_keys(), saved.rows
    broken = {
        "repeated key": {"keys": np.concatenate([keys[:1], keys[:-1]])},
        "row past the states": {"rows": np.where(rows > 0, len(rows), rows)},
        "negative row": {"rows": rows - 1},
        "negative key": {"keys": -keys - 1},
        "initial state 0": {"initial": 0},
        "one key short": {"keys": keys[:-1]},
        "accepting of another size": {"accepting": saved.accepting[:-1]},
        "rows of another width": {"rows": rows[:, :-1]},
    }
    for name, change in broken.items():
        args = {"initial": saved.initial, "keys": keys, "rows": rows,
                "expanded": saved.expanded, "accepting": saved.accepting, **change}
        with pytest.raises(ValueError):
            Automaton.from_saved(saved.byte_class, args["initial"], args["keys"], args["rows"],
                                 args["expanded"], args["accepting"], make)
            pytest.fail(name)
    with pytest.raises(ValueError, match="limit"):  # PatternTooComplex
        _from_saved(saved, make, max_states=saved.num_states - 1)
    # Keys that agree in their first values only are distinct; a repeated one is refused,
    # also when the caller made the other checks (`checked`).
    near = keys.copy()
    near[1, :KEY_WIDTH - 1] = near[0, :KEY_WIDTH - 1]
    assert _from_saved(saved, make, checked=True).num_states == saved.num_states
    made = Automaton.from_saved(saved.byte_class, saved.initial, near, rows, saved.expanded,
                                saved.accepting, make, checked=True)
    assert made.key(2) == tuple(near[1].tolist()) != made.key(1)
    repeated = np.concatenate([keys[:1], keys[:-1]])
    with pytest.raises(ValueError, match="repeat a key"):
        Automaton.from_saved(saved.byte_class, saved.initial, repeated, rows, saved.expanded,
                             saved.accepting, make, checked=True)
    assert _from_saved(saved, make, max_states=saved.num_states).num_states == saved.num_states


def test_a_snapshot_with_keys_of_another_width_is_refused():
    arrays = snapshot.take(_automaton("[0-9]{1,4}"))
    with pytest.raises(ValueError, match="not state keys"):
        snapshot.parse({**arrays, "key_flat": arrays["key_flat"][:-1],
                        "key_ends": np.minimum(arrays["key_ends"], len(arrays["key_flat"]) - 1)})


def test_restore_refuses_to_pass_max_states():
    source = _automaton("[0-9]{1,4}")
    source.walk(source.initial_state, b"1234")
    arrays = snapshot.take(source)
    saved = snapshot.parse(arrays)
    small = Automaton(to_expr(parse("[0-9]{1,4}")), max_states=3)
    with pytest.raises(ValueError, match="limit"):
        small.restore(saved.key_flat, saved.key_ends, saved.rows, saved.expanded)
    assert small.num_states == 2


def test_trie_arrays_round_trip_and_broken_arrays_are_refused(bpe_tokenizer):
    vocabulary = guide_mod.vocabulary_of(bpe_tokenizer, cache_dir=False)
    built = TokenTrie(vocabulary)
    loaded = TokenTrie.from_arrays(vocabulary, built.to_arrays())
    for name in ("parent", "node_byte", "token_node", "usable_ids"):
        got, want = getattr(loaded, name), getattr(built, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    assert (loaded.level_bounds, loaded.num_nodes) == (built.level_bounds, built.num_nodes)
    good = built.to_arrays()
    swapped = good["token_node"].copy()
    usable = np.flatnonzero(swapped)
    swapped[usable[:2]] = swapped[usable[0]]
    bounds = good["level_bounds"]
    assert len(bounds) > 3  # the checks below need nodes three levels deep
    same_level, too_high = good["parent"].copy(), good["parent"].copy()
    same_level[bounds[1]] = bounds[1]  # a depth-2 node that is its own parent
    too_high[bounds[2]] = 0  # a depth-3 node hanging from the root
    depth_of = np.repeat(np.arange(len(bounds)), np.diff(bounds, prepend=0))
    token = usable[0]
    free = np.setdiff1d(np.arange(len(depth_of)), good["token_node"])
    elsewhere = free[depth_of[free] != vocabulary.lengths[token]][0]
    moved = good["token_node"].copy()
    moved[token] = elsewhere  # still distinct and in range, but at the wrong depth
    for broken in [{**good, "parent": good["parent"][:-1]},
                   {**good, "parent": good["parent"].astype(np.int64)},
                   {**good, "parent": same_level},
                   {**good, "parent": too_high},
                   {**good, "token_node": moved},
                   {**good, "node_byte": good["node_byte"].astype(np.int32)},
                   {**good, "token_node": np.where(good["token_node"] > 0, 0, 0)},
                   {**good, "token_node": swapped},
                   {**good, "level_bounds": good["level_bounds"][::-1].copy()},
                   {k: v for k, v in good.items() if k != "parent"}]:
        with pytest.raises(ValueError, match="trie arrays"):
            TokenTrie.from_arrays(vocabulary, broken)


def test_a_new_trie_is_written_by_the_background_writer_and_reads_back(bpe_tokenizer, tmp_path,
                                                                      fresh, monkeypatch):
    store = store_mod.get_store(tmp_path)
    vocabulary = guide_mod.vocabulary_of(bpe_tokenizer, cache_dir=tmp_path)
    writers = []
    put = store_mod.Store.put_arrays

    def noted(self, kind, key, arrays):
        writers.append((kind, threading.current_thread() is threading.main_thread()))
        return put(self, kind, key, arrays)

    monkeypatch.setattr(store_mod.Store, "put_arrays", noted)
    built = persist.cached_trie(vocabulary, store)
    persist.flush()
    assert writers == [("trie", False)]  # queued, not written on the compiling thread
    fresh()
    loaded = persist.cached_trie(vocabulary, store_mod.get_store(tmp_path))
    assert np.array_equal(loaded.parent, built.parent) and writers == [("trie", False)]


def test_trie_arrays_of_tokens_with_the_same_bytes_round_trip():
    """Gemma spells "\n" twice (an added token and the byte-fallback <0x0A>): one node, two
    tokens; a node shared by tokens with different bytes is still refused."""
    vocabulary = Vocabulary.from_token_bytes([b"", b"\n", b"a", b"\n", b"ab", b"b"], [0], [0])
    built = TokenTrie(vocabulary)
    assert built.token_node[1] == built.token_node[3] != 0
    loaded = TokenTrie.from_arrays(vocabulary, built.to_arrays())
    assert np.array_equal(loaded.token_node, built.token_node)
    assert np.array_equal(loaded.usable_ids, [1, 2, 3, 4, 5])
    merged = built.to_arrays()
    merged["token_node"] = merged["token_node"].copy()
    merged["token_node"][5] = merged["token_node"][2]  # "b" on the node of "a"
    with pytest.raises(ValueError, match="token nodes do not match"):
        TokenTrie.from_arrays(vocabulary, merged)


def _bits(token_ids, size):
    allowed = np.zeros(size, dtype=bool)
    allowed[token_ids] = True
    return packed.pack(allowed)


def _record(automaton, entries, size, forbidden=None):
    """The parsed record of `automaton`'s states and `entries`."""
    arrays = snapshot.pack_record(snapshot.take(automaton), entries, size)
    if forbidden is None:
        forbidden = np.zeros((size + 7) // 8, dtype=np.uint8)
    return snapshot.parse_record(arrays, size, forbidden)


def test_record_entries_are_found_and_unpacked_by_the_snapshot_state_number():
    source = _automaton("[ab]c|[ab]d+")
    s1 = source.step(source.initial_state, ord("a"))
    s2, s3 = source.step(s1, ord("c")), source.step(s1, ord("d"))
    token_ids = np.array([0, 3, 8, 9, 17], dtype=np.int64)
    next_states = np.array([s1, s1, s2, s1, s3], dtype=np.int32)
    dense = np.arange(20) != 5  # more ids than bits: saved as bits
    entries = [(s1, _bits(token_ids, 20), next_states),
               (s2, _bits(token_ids[:0], 20), next_states[:0]),
               (s3, packed.pack(dense), None)]
    arrays = snapshot.pack_record(snapshot.take(source), entries, 20)
    assert arrays["bits"].shape == (1, 3)
    saved, table = _record(source, entries, 20)
    assert saved.num_states == source.num_states
    assert [int(table.row_of[s]) for s in (s1, s2, s3)] == [0, 1, 2]
    assert table.row_of[source.initial_state] == -1
    bits, ids, nxt = table.unpack(0, 20)
    assert bits.tobytes() == _bits(token_ids, 20).tobytes()
    assert ids.tolist() == token_ids.tolist() and nxt.tolist() == next_states.tolist()
    _, ids, nxt = table.unpack(1, 20)
    assert len(ids) == len(nxt) == 0
    bits, ids, nxt = table.unpack(2, 20)
    assert np.array_equal(packed.unpack(bits, 20), dense) and ids is nxt is None
    for forbidden in (8, 5 + 8):  # a listed token, a token of the dense entry
        with pytest.raises(ValueError, match="forbidden"):
            _record(source, entries, 20, packed.pack(np.arange(20) == forbidden % 20))
    with pytest.raises(ValueError, match="live states"):  # a token leading to the dead state
        _record(source, [(s1, _bits([3], 20), np.array([0]))], 20)


def test_entries_packed_with_their_known_ids_are_packed_the_same():
    source = _automaton("x[0-9]+")
    digit = source.walk(source.initial_state, b"x")
    more = source.walk(digit, b"1")
    ids = np.array([2, 5, 11], dtype=np.int64)
    leads_to = np.full(3, more, dtype=np.int32)
    plain = [(digit, _bits(ids, 16), leads_to), (more, _bits([4], 16), None)]
    known = [(digit, _bits(ids, 16), leads_to, ids), (more, _bits([4], 16), None, None)]
    states = snapshot.take(source)
    a, b = snapshot.pack_record(states, plain, 16), snapshot.pack_record(states, known, 16)
    assert a.keys() == b.keys() and a["ids"].tolist() == [2, 5, 11] and len(a["bits"]) == 1
    for name in a:
        assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name


def test_merged_records_are_the_union_by_state_key():
    source = _automaton("[ab]c|[ab]d+")
    s1 = source.step(source.initial_state, ord("a"))
    s2, s3 = source.step(s1, ord("c")), source.step(s1, ord("d"))
    saved = snapshot.parse(snapshot.take(source))
    other = Automaton.restored(saved.byte_class, saved.initial_key(),
                               lambda: to_expr(parse("[ab]c|[ab]d+")))
    order = [0, s3, s2, s1]  # the same states, numbered otherwise
    flat = np.concatenate([source.flat_keys()[0].reshape(-1, 4)[s - 1] for s in order[1:]])
    ids = other.restore(flat, np.arange(4) * 4, np.zeros((4, saved.rows.shape[1]), np.int32),
                        np.zeros(4, dtype=bool))
    o3, o2, o1 = ids[1:].tolist()
    assert (o1, o2, o3) != (s1, s2, s3)
    a = snapshot.pack_record(snapshot.take(source), [
        (s1, _bits([2, 3], 20), np.array([s2, s3])),
        (s3, packed.pack(np.arange(20) > 0), None)], 20)
    b = snapshot.pack_record(snapshot.take(other), [
        (o2, _bits([4], 20), None),
        (o1, _bits([2, 3], 20), np.array([o2, o3]))], 20)
    merged = snapshot.merge_record(a, b, 10_000)
    saved, table = snapshot.parse_record(merged, 20, np.zeros(3, dtype=np.uint8))
    keys = saved.keys()
    number = {key: i for i, key in enumerate(keys)}
    assert len(table) == 3 and keys[:len(snapshot.parse(a).keys())] == snapshot.parse(a).keys()
    for state, want in [(s1, [2, 3]), (s2, [4]), (s3, list(range(1, 20)))]:
        bits, _, nxt = table.unpack(int(table.row_of[number[source.key(state)]]), 20)
        assert np.flatnonzero(packed.unpack(bits, 20)).tolist() == want
        assert (nxt is not None) == (state == s1)
    _, _, nxt = table.unpack(int(table.row_of[number[source.key(s1)]]), 20)
    assert [keys[t] for t in nxt.tolist()] == [source.key(s2), source.key(s3)]
    assert snapshot.merge_record({"bits": np.zeros(1, np.uint8)}, b, 10_000) is b  # bad old
    assert snapshot.merge_record(a, b, 2) is b  # the union would pass max_states


def test_unrooted_states_get_the_way_in_an_entry_gives():
    source = _automaton("[ab]c|[ab]d+")
    s1 = source.step(source.initial_state, ord("a"))
    s3 = source.step(s1, ord("d"))
    # Known by key from a snapshot but with no way in (no row leads there): a token gives one.
    saved = snapshot.parse(snapshot.take(source))
    bare = saved.expanded.copy()
    bare[:] = False
    built = []
    restored = Automaton.restored(saved.byte_class, saved.initial_key(),
                                  lambda: built.append(1) or to_expr(parse("[ab]c|[ab]d+")))
    ids = restored.restore(saved.key_flat, saved.key_ends, saved.rows, bare,
                           accepting=saved.accepting)
    r1 = restored.step(restored.initial_state, ord("a"))
    r3 = int(ids[s3])
    assert restored.rooted_states([restored.key(r1)]) == [r1]
    assert restored.rooted_states([source.key(s3)]) is None  # known, but not reachable yet
    restored.ways_in([r3], [(r1, b"d")])
    assert restored.rooted_states([source.key(s3)]) == [r3]
    assert restored.is_accepting(restored.walk(r3, b"dd"))
    restored.ways_in([r3], [(r1, b"x")])  # a rooted state keeps its way in
    assert restored.expression_of(r3) is source.expression_of(s3)


# -- schema -> regex ---------------------------------------------------------------------------

@pytest.fixture
def schema2re():
    module = pytest.importorskip("schema2re")
    if not hasattr(module, "to_regex"):
        pytest.skip("schema2re.to_regex is not there yet")
    return module


def test_cached_to_regex_keeps_property_order_and_reuses_results(schema2re, tmp_path, fresh,
                                                                  monkeypatch):
    # past schema2re.sequence.MAX_ANY_ORDER members, the members keep the schema's order
    names = [f"p{i}" for i in range(9)]
    ab = {"type": "object", "properties": {n: {"type": "integer"} for n in names}, "required": names}
    ba = {"type": "object", "properties": {n: {"type": "integer"} for n in reversed(names)},
          "required": names}
    store = persist.store_for(tmp_path)
    want_ab, want_ba = schema2re.to_regex(ab), schema2re.to_regex(ba)
    assert want_ab != want_ba
    assert persist.cached_to_regex(ab, store) == want_ab
    assert persist.cached_to_regex(json.dumps(ba), store) == want_ba
    assert persist.cached_to_regex(ab, store, max_depth=1) == schema2re.to_regex(ab, max_depth=1)
    fresh()
    monkeypatch.setattr(schema2re, "to_regex", None)  # hits must not translate
    store = persist.store_for(tmp_path)
    assert persist.cached_to_regex(ab, store) == want_ab
    assert persist.cached_to_regex(ba, store) == want_ba
    assert store.info()["hits"] == {"schema2re": 2}


def test_cached_to_regex_repeats_warnings_and_errors(schema2re, tmp_path):
    store = persist.store_for(tmp_path)
    lenient = {"type": "string", "format": "no-such-format"}
    for _ in range(2):
        with warnings.catch_warnings(record=True) as direct:
            warnings.simplefilter("always")
            want = schema2re.to_regex(lenient, lenient=True)
        with warnings.catch_warnings(record=True) as cached:
            warnings.simplefilter("always")
            assert persist.cached_to_regex(lenient, store, lenient=True) == want
        assert [str(w.message) for w in cached] == [str(w.message) for w in direct]
    with pytest.raises(schema2re.SchemaError):
        persist.cached_to_regex("not json", store)
    assert persist.cached_to_regex(True, None) == schema2re.to_regex(True)


def test_a_stamp_finds_the_table_and_a_stale_stamp_record_is_not_trusted(tmp_path, fresh,
                                                                         smollm2_tokenizer):
    tokenizer = smollm2_tokenizer
    stamp = persist.tokenizer_stamp(tokenizer)
    assert stamp is not None  # loaded from a local folder
    store = store_mod.get_store(tmp_path)
    cold = persist.cached_vocabulary(tokenizer, store)
    assert persist.stamped_key(store, stamp, tokenizer) == persist.tokenizer_key(tokenizer)
    # A record whose token strings disagree with the tokenizer (a stale stamp) is not used.
    record = store.get_arrays("vocabulary_stamp", stamp)
    record["crc"][:] = zlib.crc32(b"x")
    store.put_arrays("vocabulary_stamp", stamp, record)
    assert persist.stamped_key(store, stamp, tokenizer) is None
    fresh()
    store = store_mod.get_store(tmp_path)
    assert persist.cached_vocabulary(tokenizer, store).fingerprint == cold.fingerprint
    assert persist.stamped_key(store, stamp, tokenizer) is not None  # recorded again


def test_a_stamp_changes_with_the_tokenizer_files(tmp_path, smollm2_tokenizer):
    folder = tmp_path / "tok"
    smollm2_tokenizer.save_pretrained(folder)
    from transformers import AutoTokenizer

    before = persist.tokenizer_stamp(AutoTokenizer.from_pretrained(folder))
    (folder / "tokenizer_config.json").write_text(
        (folder / "tokenizer_config.json").read_text() + "\n")
    assert persist.tokenizer_stamp(AutoTokenizer.from_pretrained(folder)) != before


def test_entries_are_saved_when_the_compile_memo_lets_go_of_an_index(bpe_tokenizer, tmp_path,
                                                                     fresh, monkeypatch):
    monkeypatch.setattr(guide_mod, "_AUTOMATA", LRU(1))
    monkeypatch.setattr(guide_mod, "_INDEXES", LRU(1))
    tokens = bpe_tokenizer.encode(OBJECT_TEXTS[0], add_special_tokens=False)

    def follow(guide, count):
        state = guide.initial_state
        guide.allowed_tokens(state)
        for token in tokens[:count]:
            state = guide.advance(state, token)
            guide.allowed_tokens(state)

    guide = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
    count = 0
    while not guide.index._unsaved:  # saves come after the 1st, 2nd, 4th... entry
        count += 1
        follow(guide, count)
    computed = guide.index.walks
    del guide
    decoding_compile(ANSWER, bpe_tokenizer, tmp_path)  # the memo lets go of OBJECT's index
    fresh()
    warm = decoding_compile(OBJECT, bpe_tokenizer, tmp_path)
    follow(warm, count)
    assert warm.index.walks == 0 and warm.index.restored == computed


def test_schema_constraints_reuse_the_disk_cache_translation(schema2re, tmp_path, fresh,
                                                              monkeypatch):
    from decoding.hf import constraint
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}},
              "required": ["n"]}
    monkeypatch.setattr(constraint, "_MEMO", LRU(constraint._MEMO.maxsize))
    first = constraint.make_constraint(schema=schema, cache_dir=tmp_path)
    assert first.pattern.expression() is schema2re.to_expression(schema)
    fresh()
    monkeypatch.setattr(constraint, "_MEMO", LRU(constraint._MEMO.maxsize))
    monkeypatch.setattr(schema2re, "to_expression", None)  # a hit must not translate
    again = constraint.make_constraint(schema=schema, cache_dir=tmp_path)
    assert again.pattern.name == first.pattern.name and again.parse('{"n": 7}') == {"n": 7}
    assert not again.pattern.built
    assert store_mod.get_store(tmp_path).info()["hits"] == {"schema_language": 1}


REFUSED = {"type": "string", "format": "color"}  # a format with no sound regular subset


def test_refusals_and_ignored_keywords_are_replayed_without_translating(schema2re, tmp_path,
                                                                       fresh, monkeypatch):
    store = persist.store_for(tmp_path)
    with pytest.raises(schema2re.UnsupportedSchemaError) as refused:
        persist.cached_schema_language(REFUSED, store)
    with pytest.warns(schema2re.IgnoredKeywordsWarning) as ignored:
        lenient = persist.cached_schema_language(REFUSED, store, lenient=True)
    fresh()
    monkeypatch.setattr(schema2re, "to_expression", None)  # a hit must not translate
    store = persist.store_for(tmp_path)
    with pytest.raises(schema2re.UnsupportedSchemaError) as again:
        persist.cached_schema_language(REFUSED, store)
    assert type(again.value) is type(refused.value) and str(again.value) == str(refused.value)
    assert (again.value.keyword, again.value.pointer, again.value.ignorable) == \
        (refused.value.keyword, refused.value.pointer, refused.value.ignorable) == \
        ("format", "", True)
    with pytest.warns(schema2re.IgnoredKeywordsWarning) as replayed:
        language = persist.cached_schema_language(REFUSED, store, lenient=True)
    assert [str(w.message) for w in replayed] == [str(w.message) for w in ignored]
    assert language.name == lenient.name and not language.built
    assert store.info()["hits"] == {"schema_language": 2}


def test_a_refusal_by_a_budget_is_replayed_under_the_same_limit_only(schema2re, tmp_path, fresh,
                                                                    monkeypatch):
    calls = []

    def too_complex(*args, **kwargs):
        calls.append(1)
        raise schema2re.SchemaTooComplex("too many nodes", "type", "/properties/a")

    store = persist.store_for(tmp_path)
    monkeypatch.setattr(schema2re, "to_expression", too_complex)
    with pytest.raises(schema2re.SchemaTooComplex) as refused:
        persist.cached_schema_language(REFUSED, store)
    fresh()
    store = persist.store_for(tmp_path)
    with pytest.raises(schema2re.SchemaTooComplex) as again:  # replayed: not translated
        persist.cached_schema_language(REFUSED, store)
    assert str(again.value) == str(refused.value) and again.value.keyword == "type"
    assert len(calls) == 1
    monkeypatch.setenv(limits.variable("expr_nodes"), "1000")  # another limit: translated
    with pytest.raises(schema2re.SchemaTooComplex):
        persist.cached_schema_language(REFUSED, store)
    assert len(calls) == 2
    monkeypatch.setenv(limits.variable("explored_derivatives"), "1000")  # the other ones too
    with pytest.raises(schema2re.SchemaTooComplex):
        persist.cached_schema_language(REFUSED, store)
    assert len(calls) == 3
    monkeypatch.setenv(limits.variable("derivative_steps"), "1000")
    with pytest.raises(schema2re.SchemaTooComplex):
        persist.cached_schema_language(REFUSED, store)
    assert len(calls) == 4
