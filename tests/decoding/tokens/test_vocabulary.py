"""Tests of decoding.tokens.vocabulary: byte tables of real and trained tokenizers."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from decoding.errors import TypedecodeError
from decoding.tokens import vocabulary as vocabulary_module
from decoding.tokens.vocabulary import (
    UnmappableTokensWarning,
    Vocabulary,
    VocabularyError,
)

SAMPLES = [
    "Hello, world!",
    '{"name": "Zoë", "tags": ["a", "b"], "n": -1.5e3, "ok": true, "x": null}',
    '{\n  "nested": {\n    "list": [1, 2, 3]\n  }\n}',
    "日本語のテキスト",
    "中文，한국어 문장",
    "😀👍🏽🎉 👨‍👩‍👧‍👦 🦄",
    "a    b\t\tc",
    "line1\nline2\r\n\n\nend",
    "   leading spaces",
    "trailing spaces   ",
    "\n\nstarts with newlines",
    "mixed: café 東京 🚀 {\"k\": [1,2,3]}",
    "".join(chr(c) for c in range(0x20, 0x7F)),
    "x" * 40,
]

TOKENIZERS = ["bpe", "sp", "sp_llama", "smollm2"]


@pytest.fixture(scope="module")
def tokenizers(request):
    """Lazily built tokenizers by name (SmolLM2 only when a test asks for it)."""
    built = {}

    def get(name):
        if name not in built:
            if name == "sp_llama":
                built[name] = request.getfixturevalue("make_sp_tokenizer")(decoder="llama")
            else:
                built[name] = request.getfixturevalue(f"{name}_tokenizer")
        return built[name]

    return get


@pytest.fixture(scope="module")
def vocabularies(tokenizers):
    built = {}

    def get(name):
        if name not in built:
            with warnings.catch_warnings():
                warnings.simplefilter("error", UnmappableTokensWarning)
                built[name] = Vocabulary.from_tokenizer(tokenizers(name))
        return built[name]

    return get


def expected_bytes(name: str, text: str) -> bytes:
    """The text the tokens of `text` add in the middle of a text.

    SentencePiece-style tokenizers (Metaspace, prepend scheme "first") put `▁` before a text that
    is not empty and does not start with a space; that token is a space in the byte table.
    """
    if name.startswith("sp") and text and not text.startswith(" "):
        text = " " + text
    return text.encode("utf-8")


def round_trip(tokenizer, vocab: Vocabulary, text: str) -> bytes:
    return vocab.decode(tokenizer.encode(text, add_special_tokens=False))


@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip_of_sample_texts(tokenizers, vocabularies, name, text):
    assert round_trip(tokenizers(name), vocabularies(name), text) == expected_bytes(name, text)


# U+2581 is the SentencePiece space marker: a literal one in the input decodes as a space.
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\u2581"), max_size=40)


@pytest.mark.parametrize("name", TOKENIZERS)
@settings(max_examples=150, deadline=None)
@given(text=_TEXT)
def test_round_trip_of_random_texts(tokenizers, vocabularies, name, text):
    tokenizer = tokenizers(name)
    assume(not any(t in text for t in tokenizer.all_special_tokens))
    # Only texts the tokenizer can spell (SmolLM2 has no token for bytes 0x04, 0xF1, ...;
    # its encoder drops them), judged by its own decode (SentencePiece: without the leading space).
    ids = tokenizer.encode(text, add_special_tokens=False)
    expected = expected_bytes(name, text)
    assume(tokenizer.decode(ids) == expected.decode()[1 if name.startswith("sp") else 0:])
    assert vocabularies(name).decode(ids) == expected


@pytest.mark.parametrize("name", TOKENIZERS)
def test_tables_come_from_the_decoder_description(tokenizers, vocabularies, monkeypatch, name):
    """These decoders are mirrored per token string, never decoded token by token."""

    def refuse(*args):
        raise AssertionError("decoded per token")

    monkeypatch.setattr(vocabulary_module, "_table_from_decode", refuse)
    assert Vocabulary.from_tokenizer(tokenizers(name)).token_bytes == vocabularies(name).token_bytes


def test_a_wrong_table_is_caught_by_the_decode_check(bpe_tokenizer, monkeypatch):
    class Fallback(Exception):
        pass

    def fallback(*args):
        raise Fallback

    # Reading byte-level token strings as UTF-8 is wrong for every byte >= 0x80 or < 0x21.
    monkeypatch.setattr(vocabulary_module, "_decoder_step",
                        lambda tokenizer: lambda tokens: [t.encode() for t in tokens])
    monkeypatch.setattr(vocabulary_module, "_table_from_decode", fallback)
    with pytest.raises(Fallback):
        Vocabulary.from_tokenizer(bpe_tokenizer)



@settings(max_examples=100, deadline=None)
@given(table=st.lists(st.sampled_from([b"", b"a", b"\xc3\xa9", b"\xc3", b"\xa9", b"\xe2\x82",
                                       b"\xff", b"\xf0\x9f\x98\x80", b"x\xe2\x82\xac"]),
                      max_size=700),
       skip=st.sets(st.integers(0, 800), max_size=20))
def test_the_utf8_check_finds_the_tokens_that_decode_alone(table, skip):
    """Chunks are decoded joined (700 tokens span chunks); partial characters at either end of a
    token, which would join into a valid one with a neighbour, still count as invalid."""
    expected = []
    for i, data in enumerate(table):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if data and i not in skip:
            expected.append(i)
    assert vocabulary_module._utf8_ids(table, skip) == expected


def test_byte_fallback_tokens_are_their_single_byte(sp_tokenizer, vocabularies):
    vocab = vocabularies("sp")
    byte_ids = [sp_tokenizer.convert_tokens_to_ids(f"<0x{b:02X}>") for b in range(256)]
    assert [vocab.token_bytes[i] for i in byte_ids] == [bytes([b]) for b in range(256)]
    # The fixture leaves rare characters out of its alphabet, so they are spelled in bytes.
    ids = sp_tokenizer.encode("🦄", add_special_tokens=False)
    assert set(ids) & set(byte_ids)
    assert vocab.decode(ids) == " 🦄".encode()


def test_llama_and_metaspace_decoders_give_the_same_table(vocabularies):
    assert vocabularies("sp_llama").token_bytes == vocabularies("sp").token_bytes
    assert vocabularies("sp_llama").fingerprint == vocabularies("sp").fingerprint


def test_sentencepiece_space_marker_is_a_space(sp_tokenizer, vocabularies):
    vocab = vocabularies("sp")
    marked = [(t, i) for t, i in sp_tokenizer.get_vocab().items()
              if t.startswith("\u2581") and len(t) > 1 and i not in vocab.special_ids]
    assert marked
    for token, i in marked:
        assert vocab.token_bytes[i] == (" " + token[1:]).replace("\u2581", " ").encode()


def test_byte_level_alphabet_covers_every_byte_once(bpe_tokenizer, vocabularies):
    vocab = vocabularies("bpe")
    single = [vocab.token_bytes[i] for t, i in bpe_tokenizer.get_vocab().items() if len(t) == 1]
    assert sorted(single) == [bytes([b]) for b in range(256)]


@pytest.mark.parametrize("name", TOKENIZERS)
def test_specials_are_empty_and_everything_else_is_not(tokenizers, vocabularies, name):
    tokenizer, vocab = tokenizers(name), vocabularies(name)
    declared = set(tokenizer.all_special_ids)
    declared |= {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    assert vocab.special_ids == declared
    assert all(vocab.token_bytes[i] == b"" for i in vocab.special_ids)
    assert all(vocab.token_bytes[i] for i in range(vocab.size) if i not in vocab.special_ids)
    assert vocab.size == len(tokenizer)


@pytest.mark.parametrize("name", TOKENIZERS)
def test_eos_ids_are_the_tokenizers(tokenizers, vocabularies, name):
    tokenizer, vocab = tokenizers(name), vocabularies(name)
    assert vocab.eos_token_ids == {tokenizer.eos_token_id}
    assert vocab.eos_token_ids <= vocab.special_ids


def test_smollm2_eos_is_im_end(smollm2_tokenizer, vocabularies):
    assert vocabularies("smollm2").eos_token_ids == {
        smollm2_tokenizer.convert_tokens_to_ids("<|im_end|>")}


def test_eos_override_and_tokenizer_without_eos(make_bpe_tokenizer):
    tokenizer = make_bpe_tokenizer()
    pad = tokenizer.pad_token_id
    assert Vocabulary.from_tokenizer(tokenizer, eos_token_ids=[pad]).eos_token_ids == {pad}
    tokenizer.eos_token = None
    assert tokenizer.eos_token_id is None
    assert Vocabulary.from_tokenizer(tokenizer).eos_token_ids == frozenset()
    with pytest.raises(VocabularyError, match="eos_token_ids contains id 99999"):
        Vocabulary.from_tokenizer(tokenizer, eos_token_ids=[99999])


def test_fingerprint_is_stable_and_tells_tokenizers_apart(make_bpe_tokenizer, vocabularies):
    first = Vocabulary.from_tokenizer(make_bpe_tokenizer())
    second = Vocabulary.from_tokenizer(make_bpe_tokenizer())
    assert first.fingerprint == second.fingerprint
    names = ["bpe", "sp", "smollm2"]
    assert len({vocabularies(n).fingerprint for n in names}) == len(names)
    again = Vocabulary.from_token_bytes(first.token_bytes, first.special_ids, first.eos_token_ids)
    assert again.fingerprint == first.fingerprint


def test_fingerprint_covers_bytes_specials_and_eos():
    base = Vocabulary.from_token_bytes([b"a", b"b", b"", b""], {2, 3}, {3})
    variants = [
        Vocabulary.from_token_bytes([b"a", b"c", b"", b""], {2, 3}, {3}),
        Vocabulary.from_token_bytes([b"ab", b"", b"", b""], {1, 2, 3}, {3}),
        Vocabulary.from_token_bytes([b"a", b"b", b"", b""], {2, 3}, {2}),
        Vocabulary.from_token_bytes([b"a", b"b", b"", b""], {2, 3}, set()),
        Vocabulary.from_token_bytes([b"a", b"b", b"", b"", b""], {2, 3, 4}, {3}),
    ]
    assert len({base.fingerprint, *(v.fingerprint for v in variants)}) == 1 + len(variants)


def test_fingerprint_is_the_same_in_another_process():
    table = [b"{", b"}", b"\xe6\x97", b"\xa5", b"", b" x"]
    code = (
        "import json, sys; from decoding.tokens.vocabulary import Vocabulary; "
        "t = [bytes(b) for b in json.loads(sys.argv[1])]; "
        "print(Vocabulary.from_token_bytes(t, {4}, {4}).fingerprint)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps([list(b) for b in table])],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"}, cwd=Path(__file__).resolve().parents[3],
    )
    assert out.stdout.strip() == Vocabulary.from_token_bytes(table, {4}, {4}).fingerprint


def test_added_tokens(make_bpe_tokenizer):
    tokenizer = make_bpe_tokenizer()
    tokenizer.add_tokens(["<tool>", "héllo wörld"])
    tokenizer.add_tokens(["<|secret|>"], special_tokens=True)
    vocab = Vocabulary.from_tokenizer(tokenizer)
    tool, hello, secret = tokenizer.convert_tokens_to_ids(["<tool>", "héllo wörld", "<|secret|>"])
    assert vocab.size == len(tokenizer) > max(tool, hello, secret)
    assert vocab.token_bytes[tool] == b"<tool>"
    assert vocab.token_bytes[hello] == "héllo wörld".encode()
    assert tool not in vocab.special_ids and hello not in vocab.special_ids
    assert vocab.token_bytes[secret] == b"" and secret in vocab.special_ids
    text = 'call <tool>{"q": "héllo wörld"}'
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tool in ids and hello in ids
    assert vocab.decode(ids) == text.encode()


def test_unmappable_tokens_are_reported_and_special(make_bpe_tokenizer):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = json.loads(make_bpe_tokenizer().backend_tokenizer.to_str())
    vocab_json = spec["model"]["vocab"]
    odd = len(vocab_json)
    vocab_json["a b"] = odd  # a space is not a byte-level character
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
                                        eos_token="</s>")
    with pytest.warns(UnmappableTokensWarning, match=r"1 token\(s\) of \d+ could not be mapped"):
        vocab = Vocabulary.from_tokenizer(tokenizer)
    assert vocab.token_bytes[odd] == b"" and odd in vocab.special_ids
    assert vocab.decode(tokenizer.encode("a b", add_special_tokens=False)) == b"a b"


def test_wordpiece_decoder_is_decoded_per_token():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["[UNK]", "hello", "world", "##s", "a", "##b", ".", ","]
    model = models.WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]")
    backend = Tokenizer(model)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece(cleanup=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    vocab = Vocabulary.from_tokenizer(tokenizer)
    assert vocab.token_bytes == (b"", b" hello", b" world", b"s", b" a", b"b", b" .", b" ,")
    text = "hello worlds, ab."
    assert round_trip(tokenizer, vocab, text) == b" hello worlds , ab ."


def test_context_dependent_decoder_is_rejected():
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE({"<unk>": 0, "a": 1, "b": 2, "c": 3}, [], unk_token="<unk>"))
    backend.decoder = decoders.Sequence([decoders.Fuse(), decoders.Replace("ab", "X")])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")
    with pytest.raises(VocabularyError, match="depends on the surrounding tokens"):
        Vocabulary.from_tokenizer(tokenizer)


def test_slow_byte_level_tokenizer_matches_its_fast_twin(tmp_path, bpe_tokenizer, vocabularies):
    from transformers.models.clvp.tokenization_clvp import ClvpTokenizer

    model = json.loads(bpe_tokenizer.backend_tokenizer.to_str())["model"]
    (tmp_path / "vocab.json").write_text(json.dumps(model["vocab"]))
    (tmp_path / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(" ".join(m) + "\n" for m in model["merges"]))
    slow = ClvpTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"),
                         bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    assert not slow.is_fast
    vocab, fast = Vocabulary.from_tokenizer(slow), vocabularies("bpe")
    assert vocab.token_bytes[:fast.size] == fast.token_bytes
    assert vocab.special_ids == fast.special_ids | set(range(fast.size, vocab.size))
    assert vocab.eos_token_ids == fast.eos_token_ids


def test_slow_tokenizer_without_known_decoder():
    from transformers.tokenization_python import PythonBackend

    class CharTokenizer(PythonBackend):
        chars = ["<unk>", "<eos>", *"abcdefghijklmnopqrstuvwxyz .,é"]

        def __init__(self):
            super().__init__(unk_token="<unk>", eos_token="<eos>")

        @property
        def vocab_size(self):
            return len(self.chars)

        def get_vocab(self):
            return {c: i for i, c in enumerate(self.chars)}

        def _tokenize(self, text):
            return list(text)

        def _convert_token_to_id(self, token):
            return self.chars.index(token) if token in self.chars else 0

        def _convert_id_to_token(self, index):
            return self.chars[index]

        def convert_tokens_to_string(self, tokens):
            return "".join(tokens)

    tokenizer = CharTokenizer()
    vocab = Vocabulary.from_tokenizer(tokenizer)
    assert vocab.token_bytes == (b"", b"", *(c.encode() for c in CharTokenizer.chars[2:]))
    assert vocab.eos_token_ids == {1}
    assert round_trip(tokenizer, vocab, "héllo, world.") == "héllo, world.".encode()


def test_not_a_tokenizer():
    with pytest.raises(VocabularyError, match="expected a transformers tokenizer, got dict"):
        Vocabulary.from_tokenizer({"a": 1})


def test_flat_arrays_describe_the_table(vocabularies):
    vocab = vocabularies("smollm2")
    assert vocab.flat.dtype == np.uint8 and vocab.offsets.dtype == np.int64
    assert vocab.lengths.dtype == np.int32
    assert len(vocab.offsets) == len(vocab.lengths) == len(vocab.token_bytes) == vocab.size
    flat = vocab.flat.tobytes()
    assert [flat[o:o + n] for o, n in zip(vocab.offsets.tolist(), vocab.lengths.tolist())] \
        == list(vocab.token_bytes)
    assert len(flat) == int(vocab.lengths.sum())
    with pytest.raises(ValueError):
        vocab.lengths[0] = 5


def test_from_token_bytes_normalizes_empty_and_eos_ids():
    vocab = Vocabulary.from_token_bytes([b"a", b"", bytearray(b"c"), b""], [], [3])
    assert vocab.special_ids == {1, 3}
    assert vocab.eos_token_ids == {3}
    assert vocab.token_bytes == (b"a", b"", b"c", b"")
    assert vocab.decode([0, 1, np.int64(2), 3]) == b"ac"


@pytest.mark.parametrize("args, message", [
    (([], [], []), "the token table is empty"),
    (([b"a", "b"], [], []), r"token_bytes\[1\] is str, expected bytes"),
    (([b"a", b"<eos>"], [1], [1]), "special token id 1 has bytes b'<eos>'"),
    (([b"a", b""], [1], [2]), r"eos_token_ids contains id 2, outside the vocabulary \(ids 0..1\)"),
    (([b"a", b""], [-1], []), "special_ids contains id -1"),
    (([b"a", b""], ["1"], []), "special_ids contains '1', which is not a token id"),
    (([b"a", b""], "1", []), "special_ids must be a collection of token ids, got str"),
    (([b"a", b""], [], 1), "eos_token_ids must be a collection of token ids, got int"),
    # id arrays (what the cache stores) are checked as arrays, with the same messages
    (([b"a", b""], np.array([1, 5]), []), r"special_ids contains id 5, outside the vocabulary"),
    (([b"a", b""], np.array([-3, 1], np.int32), []), "special_ids contains id -3"),
    (([b"a", b""], [1], np.array([2], np.uint64)), "eos_token_ids contains id 2"),
])
def test_from_token_bytes_rejects_bad_tables(args, message):
    with pytest.raises(VocabularyError, match=message) as info:
        Vocabulary.from_token_bytes(*args)
    assert isinstance(info.value, TypedecodeError) and isinstance(info.value, ValueError)


def test_decode_rejects_ids_out_of_range():
    vocab = Vocabulary.from_token_bytes([b"a", b""], [1], [1])
    with pytest.raises(VocabularyError, match=r"token id 2 at position 1 is outside"):
        vocab.decode([0, 2])
    with pytest.raises(VocabularyError, match=r"token id -1 at position 0"):
        vocab.decode([-1])
    with pytest.raises(VocabularyError, match=r"'a' at position 0 is not a token id"):
        vocab.decode(["a"])


def test_vocabulary_is_immutable():
    vocab = Vocabulary.from_token_bytes([b"a", b""], [1], [1])
    with pytest.raises(AttributeError, match="immutable"):
        vocab.size = 3
    with pytest.raises(ValueError):
        vocab.flat[0] = 0
    copied = copy.deepcopy(vocab)
    assert copied is not vocab and copied.fingerprint == vocab.fingerprint


def test_from_arrays_equals_from_token_bytes(vocabularies):
    vocab = vocabularies("bpe")
    loaded = Vocabulary.from_arrays(vocab.flat, vocab.lengths, sorted(vocab.special_ids),
                                    sorted(vocab.eos_token_ids))
    assert loaded.fingerprint == vocab.fingerprint and loaded.special_ids == vocab.special_ids
    as_arrays = Vocabulary.from_arrays(vocab.flat, vocab.lengths,
                                       np.array(sorted(vocab.special_ids), np.int64),
                                       np.array(sorted(vocab.eos_token_ids), np.int64))
    assert as_arrays.fingerprint == vocab.fingerprint
    assert as_arrays.special_ids == vocab.special_ids
    assert as_arrays.eos_token_ids == vocab.eos_token_ids
    assert loaded.token_bytes == vocab.token_bytes  # built from flat on first read
    assert (loaded.offsets == vocab.offsets).all()


def test_from_arrays_keeps_immutable_views_and_copies_the_rest(vocabularies):
    vocab = vocabularies("bpe")
    flat, lengths = vocab.flat.copy(), vocab.lengths.copy()  # writable: copied
    loaded = Vocabulary.from_arrays(flat, lengths, sorted(vocab.special_ids), [])
    flat[:] = 0
    lengths[:] = 0
    assert loaded.token_bytes == vocab.token_bytes
    flat = vocab.flat.copy()
    frozen_view = flat.view()
    frozen_view.flags.writeable = False  # read-only, but its memory can change: copied
    loaded = Vocabulary.from_arrays(frozen_view, vocab.lengths, sorted(vocab.special_ids), [])
    flat[:] = 0
    assert loaded.token_bytes == vocab.token_bytes
    data = vocab.flat.tobytes() + vocab.lengths.astype(np.int32).tobytes()
    in_bytes = np.frombuffer(data, np.uint8, count=len(vocab.flat))
    in_bytes_lengths = np.frombuffer(memoryview(data)[len(vocab.flat):], np.int32)
    kept = Vocabulary.from_arrays(in_bytes, in_bytes_lengths, sorted(vocab.special_ids), [])
    assert kept.flat is in_bytes and kept.lengths is in_bytes_lengths  # nothing can change them
    assert kept.token_bytes == vocab.token_bytes


def test_from_arrays_takes_a_given_fingerprint_of_the_right_form(vocabularies):
    vocab = vocabularies("bpe")
    special, eos = sorted(vocab.special_ids), sorted(vocab.eos_token_ids)
    given = Vocabulary.from_arrays(vocab.flat, vocab.lengths, special, eos,
                                   fingerprint=vocab.fingerprint)
    assert given.fingerprint == vocab.fingerprint == Vocabulary.from_arrays(
        vocab.flat, vocab.lengths, special, eos).fingerprint
    for bad in ("", vocab.fingerprint[:-1], vocab.fingerprint.upper(), vocab.fingerprint + "0"):
        with pytest.raises(VocabularyError, match="fingerprint"):
            Vocabulary.from_arrays(vocab.flat, vocab.lengths, special, eos, fingerprint=bad)


@pytest.mark.parametrize("flat, lengths, special, message", [
    (np.frombuffer(b"ab", np.uint8), np.array([1, 2], np.int32), [], "add up to 3"),
    (np.frombuffer(b"ab", np.uint8), np.array([3, -1], np.int32), [], "negative"),
    (np.frombuffer(b"ab", np.uint8), np.array([1, 1], np.int32), [1], "special token id 1"),
    (np.zeros(2, np.int64), np.array([1, 1], np.int32), [], "uint8"),
    (np.frombuffer(b"", np.uint8), np.array([], np.int32), [], "empty"),
])
def test_from_arrays_rejects_bad_arrays(flat, lengths, special, message):
    with pytest.raises(VocabularyError, match=message):
        Vocabulary.from_arrays(flat, lengths, special, [])


# --- Gemma 3 270M: 262,144 tokens, `▁`, byte fallback, added and special tokens (slow) ----------


def _completed_character(byte: int) -> bytes | None:
    """A valid UTF-8 character whose encoding holds `byte`, or None for a byte that none holds."""
    if byte < 0x80:
        return bytes([byte])
    if byte <= 0xBF:
        return bytes([0xC2, byte])  # a continuation byte after a two-byte lead
    if 0xC2 <= byte <= 0xDF:
        return bytes([byte, 0x80])
    if 0xE0 <= byte <= 0xEF:
        return bytes([byte, 0xA0 if byte == 0xE0 else 0x80, 0x80])
    if 0xF0 <= byte <= 0xF4:
        return bytes([byte, 0x90 if byte == 0xF0 else 0x80, 0x80, 0x80])
    return None  # 0xC0, 0xC1, 0xF5-0xFF never occur in UTF-8


@pytest.mark.slow
def test_gemma_every_token_decodes_in_context_to_its_bytes(gemma_gen):
    """Every id of the table masks are built from adds exactly what `tokenizer.decode` adds
    after an ordinary token; byte-fallback tokens complete characters with their neighbours."""
    tokenizer, vocabulary = gemma_gen.tokenizer, gemma_gen.vocabulary
    assert vocabulary.size == len(tokenizer) == 262144

    def decode(ids):
        return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    prefix = tokenizer.convert_tokens_to_ids("a")
    head = decode([prefix])
    texts = tokenizer.batch_decode([[prefix, t] for t in range(vocabulary.size)],
                                   skip_special_tokens=True, clean_up_tokenization_spaces=False)
    wrong, lone_bytes = [], 0
    for t, (text, data) in enumerate(zip(texts, vocabulary.token_bytes)):
        assert text.startswith(head), (t, text)
        added = text[len(head):]
        special_agrees = (t in vocabulary.special_ids) == (data == b"") == (added == "")
        if not special_agrees or added != data.decode("utf-8", errors="replace"):
            wrong.append((t, data, added))
        lone_bytes += not data.isascii() and len(data) == 1
    assert wrong == [], wrong[:10]
    assert lone_bytes == 128  # the byte-fallback tokens <0x80>..<0xFF>

    byte_ids = {b: tokenizer.convert_tokens_to_ids(f"<0x{b:02X}>") for b in range(256)}
    assert all(vocabulary.token_bytes[i] == bytes([b]) for b, i in byte_ids.items())
    for byte in range(256):
        character = _completed_character(byte)
        if character is not None:
            ids = [byte_ids[b] for b in character]
            assert decode([prefix, *ids]) == head + character.decode("utf-8"), hex(byte)
    for name in ("▁Hello", "▁", "▁▁", "<table>", "\n\n"):
        t = tokenizer.convert_tokens_to_ids(name)
        assert t != tokenizer.unk_token_id and vocabulary.token_bytes[t] == \
            name.replace("▁", " ").encode()
    for t in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id,
              tokenizer.convert_tokens_to_ids("<start_of_turn>"),
              tokenizer.convert_tokens_to_ids("<unused0>")):
        assert t in vocabulary.special_ids and vocabulary.token_bytes[t] == b""
