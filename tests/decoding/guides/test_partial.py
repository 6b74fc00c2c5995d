"""The partial engine (`engine="partial"`, `decoding.guides.partial.PartialGuide`).

- Masks agree with the automaton engine (exact) on patterns both engines take, and are the
  automaton's mask minus, at most, tokens that end inside a character (the candidate spread).
- Random token walks over lookaround, backreference and non-ASCII patterns never dead-end, and
  every state they reach is a prefix of a match by an independent brute-force check.
- Characters split across tokens: hand-made vocabularies pin down when a token that ends inside a
  character is allowed.
- Generation through `decoding.Generator` (tiny random-weight Llama; the real default model in
  the slow tests) returns text that `regex.fullmatch`es, with jump-forward on and off.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator

import pytest
import regex
import torch

import decoding
from decoding import Generator, IncompleteGeneration, TokenRejected, Vocabulary
from decoding.errors import PatternSyntaxError, PatternTooComplex
from decoding.guides import partial
from tests.tiny_models import Script, tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TOKENIZERS = ["smollm2_tokenizer", "bpe_tokenizer", "sp_tokenizer"]

# The patterns of issue 12 plus lookaround, backreference and non-ASCII ones.
ISSUE_PATTERNS = [r" (yes|no)", r" (?=a)[a-z]+\.", r" a[a-z]+\.", r" [a-z]+\.", r" (?!x)[a-z]+\."]
BEYOND_AUTOMATON = [r" (\w+) and \1\.", r" (?=\d)\d+", r"(?<![a-z])[A-Z]{2}",
                    r"(?=.)[^a]{1,6}", r"(\p{Han})\1x", r"(?!日)[é日本]{1,3}x"]
NON_ASCII = [r"[é日本]+x", r"(?i)(yes|no|maybe) 🎉+", r"[^a]{1,6}", r".{1,5}!"]


# --- an independent check ---------------------------------------------------------------------


def _completions(pending: bytes, pattern: str) -> Iterator[str]:
    """Every character whose UTF-8 encoding starts with `pending` (an unfinished character),
    those written in `pattern` first (the search stops at the first that fits)."""
    yield from (c for c in pattern if c.encode("utf-8").startswith(pending))
    length = 2 if pending[0] < 0xE0 else 3 if pending[0] < 0xF0 else 4
    value = pending[0] & (0x7F >> length)
    for byte in pending[1:]:
        value = value << 6 | byte & 0x3F
    shift = 6 * (length - len(pending))
    lowest = max(value << shift, (0x80, 0x800, 0x10000)[length - 2])  # no overlong forms
    for code in range(lowest, min((value + 1) << shift, 0x110000)):
        if not 0xD800 <= code <= 0xDFFF:
            yield chr(code)


@functools.cache
def _compiled(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)


def _viable(pattern: str, data: bytes) -> bool:
    """Whether `data` is a prefix of the UTF-8 of some text `regex` partial-matches (brute force
    over every completion of an unfinished last character)."""
    compiled = _compiled(pattern)
    try:
        return compiled.fullmatch(data.decode("utf-8"), partial=True) is not None
    except UnicodeDecodeError as e:
        if e.reason != "unexpected end of data":
            return False
        whole, pending = data[: e.start].decode("utf-8"), data[e.start:]
    return any(compiled.fullmatch(whole + c, partial=True) for c in _completions(pending, pattern))


def _ends_inside_a_character(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def _token_ids(mask: torch.Tensor, vocab: Vocabulary) -> list[int]:
    return [t for t in torch.nonzero(mask).flatten().tolist() if t not in vocab.eos_token_ids]


def _random_walk(guide, rng: random.Random, steps: int, check_every_token: bool) -> None:
    """Walk `steps` random allowed tokens (ending early with EOS at some accepting states),
    checking the invariants at every state."""
    vocab, pattern = guide.vocabulary, guide.pattern
    eos = min(vocab.eos_token_ids)
    state, data = guide.initial_state, b""
    for _ in range(steps):
        mask = guide.allowed_tokens(state)
        ids = _token_ids(mask, vocab)
        accepting = guide.is_accepting(state)
        assert ids or accepting, (pattern, data)  # never a dead end
        assert bool(mask[eos]) == accepting, (pattern, data)
        assert _viable(pattern, data), (pattern, data)
        if check_every_token:  # sound for every token, exact where a token ends a character
            for t in range(vocab.size):
                after = data + vocab.token_bytes[t]
                if mask[t] and t not in vocab.eos_token_ids:
                    assert _viable(pattern, after), (pattern, data, after)
                elif vocab.token_bytes[t] and not _ends_inside_a_character(after):
                    assert not _viable(pattern, after), (pattern, data, after)
        if accepting and (not ids or rng.random() < 0.2):
            assert guide.advance(state, eos) == state
            assert regex.fullmatch(pattern, data.decode("utf-8"))
            return
        token = rng.choice(ids)
        state = guide.advance(state, token)
        data += vocab.token_bytes[token]


# --- issue 12 --------------------------------------------------------------------------------


def test_issue_12_no_lone_lead_bytes_at_the_start(smollm2_tokenizer):
    guide = decoding.compile(r"(yes|no)", smollm2_tokenizer, engine="partial")
    exact = decoding.compile(r"(yes|no)", smollm2_tokenizer)
    mask = guide.allowed_tokens(guide.initial_state)
    assert int(mask.sum()) == 5  # y, ye, yes, n, no (205 before the fix)
    assert torch.equal(mask, exact.allowed_tokens(exact.initial_state))
    for t in _token_ids(mask, guide.vocabulary):
        after = guide.advance(guide.initial_state, t)
        assert _token_ids(guide.allowed_tokens(after), guide.vocabulary) \
            or guide.is_accepting(after)


@pytest.mark.parametrize("pattern", ISSUE_PATTERNS)
def test_issue_12_patterns_walk_without_dead_ends(smollm2_tokenizer, pattern):
    guide = decoding.compile(pattern, smollm2_tokenizer, engine="partial")
    for seed in range(2):
        _random_walk(guide, random.Random(seed), steps=6, check_every_token=False)


# --- masks against the automaton engine --------------------------------------------------------


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("pattern", NON_ASCII)
def test_masks_equal_the_automaton_masks(request, tok_name, pattern):
    tokenizer = request.getfixturevalue(tok_name)
    exact = decoding.compile(pattern, tokenizer)
    guide = decoding.compile(pattern, tokenizer, engine="partial")
    steps = 5 if tok_name == "smollm2_tokenizer" else 25
    for seed in range(2 if tok_name == "smollm2_tokenizer" else 6):
        rng = random.Random(seed)
        se, sp, data = exact.initial_state, guide.initial_state, b""
        for _ in range(steps):
            mask = guide.allowed_tokens(sp)
            assert torch.equal(mask, exact.allowed_tokens(se)), (pattern, data)
            ids = _token_ids(mask, guide.vocabulary)
            if not ids:
                break
            token = rng.choice(ids)
            se, sp = exact.advance(se, token), guide.advance(sp, token)
            data += guide.vocabulary.token_bytes[token]
        assert exact.is_accepting(se) == guide.is_accepting(sp)
        assert exact.is_finished(se) == guide.is_finished(sp)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_a_mask_lacks_only_tokens_that_end_inside_a_character(request, tok_name):
    """`\\w` after a lone 4-byte lead: the automaton allows 0xF3 (U+E0100.. are marks), the
    candidate spread of 0xF3 holds no word character; nothing else differs."""
    tokenizer = request.getfixturevalue(tok_name)
    exact = decoding.compile(r"\w+ \w+", tokenizer)
    guide = decoding.compile(r"\w+ \w+", tokenizer, engine="partial")
    me, mp = exact.allowed_tokens(exact.initial_state), guide.allowed_tokens(guide.initial_state)
    assert not (mp & ~me).any()
    missing = torch.nonzero(me & ~mp).flatten().tolist()
    assert all(_ends_inside_a_character(guide.vocabulary.token_bytes[t]) for t in missing)
    assert len(missing) <= 1


def test_partial_mask_contains_the_automaton_mask_along_a_match(bpe_tokenizer):
    pattern = r'\{"a": ("[^"]*"|[0-9]+)\}'
    exact = decoding.compile(pattern, bpe_tokenizer)
    partial = decoding.compile(pattern, bpe_tokenizer, engine="partial")
    ids = bpe_tokenizer.encode('{"a": "xyz"}', add_special_tokens=False)
    se, sp = exact.initial_state, partial.initial_state
    for t in ids:
        me, mp = exact.allowed_tokens(se), partial.allowed_tokens(sp)
        assert not (me & ~mp).any()
        se, sp = exact.advance(se, t), partial.advance(sp, t)
    assert exact.is_accepting(se) and partial.is_accepting(sp)


# --- random walks beyond the automaton ---------------------------------------------------------


@pytest.mark.parametrize("tok_name", ["bpe_tokenizer", "sp_tokenizer"])
@pytest.mark.parametrize("pattern", ISSUE_PATTERNS + BEYOND_AUTOMATON + NON_ASCII)
def test_random_walks_small_vocabularies(request, tok_name, pattern):
    """Every allowed token keeps the text a prefix of a match, every refused token that ends a
    character breaks it, and no state is a dead end."""
    guide = decoding.compile(pattern, request.getfixturevalue(tok_name), engine="partial")
    for seed in range(4):
        _random_walk(guide, random.Random(seed), steps=12, check_every_token=True)


@pytest.mark.parametrize("pattern", BEYOND_AUTOMATON)
def test_random_walks_smollm2(smollm2_tokenizer, pattern):
    guide = decoding.compile(pattern, smollm2_tokenizer, engine="partial")
    for seed in range(3):
        _random_walk(guide, random.Random(seed), steps=5, check_every_token=False)


def test_backreference_finishes(bpe_tokenizer):
    guide = decoding.compile(r"(ab|cd)-\1", bpe_tokenizer, engine="partial")
    state = guide.initial_state
    for t in bpe_tokenizer.encode("cd-cd", add_special_tokens=False):
        assert not guide.is_finished(state)
        state = guide.advance(state, t)
    assert guide.is_accepting(state) and guide.is_finished(state)
    mask = guide.allowed_tokens(state)
    assert torch.nonzero(mask).flatten().tolist() == sorted(guide.vocabulary.eos_token_ids)
    with pytest.raises(TokenRejected):
        guide.advance(state, bpe_tokenizer.encode("ab", add_special_tokens=False)[0])


# --- characters split across tokens (hand-made vocabularies) -----------------------------------

EOS = 0


def _vocab(*tokens: bytes) -> Vocabulary:
    return Vocabulary.from_token_bytes([b""] + list(tokens), special_ids=[EOS],
                                       eos_token_ids=[EOS])


def _allowed(guide, data: bytes) -> set[bytes]:
    """The bytes of the tokens allowed after walking `data` one known token at a time."""
    vocab = guide.vocabulary
    state = guide.initial_state
    while data:
        t = max((t for t, b in enumerate(vocab.token_bytes) if b and data.startswith(b)),
                key=lambda t: len(vocab.token_bytes[t]))
        state = guide.advance(state, t)
        data = data[len(vocab.token_bytes[t]):]
    mask = guide.allowed_tokens(state)
    return {b"<eos>" if t == EOS else vocab.token_bytes[t]
            for t in torch.nonzero(mask).flatten().tolist()}


def test_a_lead_byte_is_allowed_only_toward_a_viable_character():
    vocab = _vocab(b"x", b"\xc3", b"\xa9", b"\xa8", b"\xe6", b"\x97", b"\xa5", b"\xa9x")
    guide = decoding.compile(r"é+x", vocab, engine="partial")
    assert _allowed(guide, b"") == {b"\xc3"}          # not x, not the lead of 日
    assert _allowed(guide, b"\xc3") == {b"\xa9", b"\xa9x"}   # é, not è
    assert _allowed(guide, "é".encode()) == {b"\xc3", b"x"}
    assert _allowed(guide, "éx".encode()) == {b"<eos>"}


def test_a_lead_byte_needs_tokens_that_finish_the_character():
    without = _vocab(b"x", b"\xc3", b"\xa8")  # é's last byte is no token
    assert _allowed(decoding.compile(r"é*x", without, engine="partial"), b"") == {b"x"}
    with_it = _vocab(b"x", b"\xc3", b"\xa8", b"\xa9")
    assert _allowed(decoding.compile(r"é*x", with_it, engine="partial"), b"") == {b"x", b"\xc3"}


def test_three_byte_characters_byte_by_byte():
    vocab = _vocab(b"x", b"\xe6", b"\x97", b"\xa5", b"\x9c", b"\xac", b"\xe8")
    guide = decoding.compile(r"(?=日)日本x", vocab, engine="partial")  # lookahead: partial only
    assert _allowed(guide, b"") == {b"\xe6"}
    assert _allowed(guide, b"\xe6") == {b"\x97"}
    assert _allowed(guide, b"\xe6\x97") == {b"\xa5"}
    assert _allowed(guide, "日".encode()) == {b"\xe6"}
    assert _allowed(guide, "日".encode() + b"\xe6") == {b"\x9c"}
    assert _allowed(guide, "日本".encode()) == {b"x"}
    state = guide.initial_state
    for b in "日本x".encode():
        state = guide.advance(state, vocab.token_bytes.index(bytes([b])))
    assert guide.is_accepting(state) and guide.is_finished(state)


def test_rescue_where_only_a_character_outside_the_candidates_goes_on():
    """`(.)\\1x` after U+F904 goes on only with U+F904 (EF A4 84), here spelled byte by byte: the
    lone lead 0xEF is two bytes short, its candidates (the spread EF xx 80) all fail there."""
    vocab = _vocab(b"x", b"\xef", b"\xa4", b"\x84", b"\x80")
    guide = decoding.compile(r"(.)\1x", vocab, engine="partial")
    first = "\uf904".encode()
    assert _allowed(guide, b"") == {b"x", b"\xef"}  # any character: the spread holds some
    assert _allowed(guide, first[:2]) == {b"\x84", b"\x80", b"\xa4"}  # any last byte
    assert _allowed(guide, first) == {b"\xef"}  # by the rescue
    assert _allowed(guide, first + b"\xef") == {b"\xa4"}
    assert _allowed(guide, first + b"\xef\xa4") == {b"\x84"}
    assert _allowed(guide, first * 2) == {b"x"}


def test_rescue_finds_the_lead_byte_when_no_whole_token_exists():
    vocab = _vocab(b"x", b"a", b"\xef", b"\xa4", b"\x84", b"\x80")
    guide = decoding.compile(r"a\uF904x", vocab, engine="partial")  # written as an escape
    assert _allowed(guide, b"") == {b"a"}
    assert _allowed(guide, b"a") == {b"\xef"}
    assert _allowed(guide, b"a\xef") == {b"\xa4"}


def test_a_split_state_is_not_accepting():
    vocab = _vocab(b"a", b"\xc3", b"\xa9")
    guide = decoding.compile(r"aé?", vocab, engine="partial")
    state = guide.advance(guide.initial_state, 1)
    assert guide.is_accepting(state) and not guide.is_finished(state)
    split = guide.advance(state, 2)
    assert not guide.is_accepting(split) and not guide.is_finished(split)
    with pytest.raises(TokenRejected, match="EOS"):
        guide.advance(split, EOS)
    done = guide.advance(split, 3)
    assert guide.is_accepting(done) and guide.is_finished(done)


@pytest.mark.parametrize("pattern, allowed", [("\ud800", set()), ("a|\udfff", {b"a"}),
                                              ("[\ud800-\udfff]x?", set())])
def test_surrogates_in_the_pattern_are_never_candidates(pattern, allowed):
    """Found by fuzzing: a lone surrogate in the pattern raised UnicodeEncodeError from the
    candidate list; UTF-8 text never holds one, so it allows nothing."""
    vocab = _vocab(b"a", b"\xed", b"\xa0\x80")
    guide = decoding.compile(pattern, vocab, engine="partial")
    assert _allowed(guide, b"") == allowed


def test_what_the_regex_module_fails_on_is_a_typed_error(bpe_tokenizer, monkeypatch):
    """Found by fuzzing: regex.compile raised KeyError on `(?V1)(?V0)` (regex 2026.5.9; later
    releases raise ValueError), matching `(?R)` raised MemoryError, and masks of deeply nested
    groups repeated 1000 times, or of `\\b]`, ran for minutes."""
    with pytest.raises(PatternSyntaxError,
                       match=r"cannot compile the pattern \((KeyError|ValueError)"):
        decoding.compile("(?V1)(?V0)", bpe_tokenizer, engine="partial")
    recursive = decoding.compile("a.+$|(?R)", bpe_tokenizer, engine="partial")
    with pytest.raises(PatternTooComplex, match="gave up"):
        recursive.allowed_tokens(recursive.initial_state)
    monkeypatch.setattr(partial, "MATCH_BUDGET_S", 0.2)
    # One slow match; many quick ones (the rescue's completions after `\b`).
    for pattern in ("(?:" + "(" * 200 + "a|(?i:)" + ")" * 200 + "){1000}", r"\b]"):
        slow = decoding.compile(pattern, bpe_tokenizer, engine="partial")
        with pytest.raises(PatternTooComplex, match="took over 0.2 s"):
            slow.allowed_tokens(slow.initial_state)


def test_counted_repeats_that_would_crash_the_regex_module_are_refused(bpe_tokenizer):
    """Found by fuzzing: `regex.compile` writes out counted repeats of an alternation and crashes
    the process (segmentation fault) on `(?:(?:sound|[^a]){1000}){1000}`; the partial engine
    refuses such text before compiling it, naming the repeat, and still takes long bounded
    strings whose expansion stays under the bound."""
    for pattern, repeat_at in [("(?:(?:sound|[^a]){1000}){1000}", 24),
                               ("x(?:ab|b){60000}(?:ab|b){60000}", 9)]:
        with pytest.raises(PatternTooComplex, match="write out to about") as caught:
            decoding.compile(pattern, bpe_tokenizer, engine="partial")
        assert caught.value.pos == repeat_at
    string = r'"(?:[^"\\]|\\.){0,32767}"'
    guide = decoding.compile(string, bpe_tokenizer, engine="partial")
    assert guide.allowed_tokens(guide.initial_state).any()


def test_masks_are_model_wide_and_errors_are_typed(bpe_tokenizer):
    vocab = decoding.vocabulary_of(bpe_tokenizer)
    guide = decoding.compile(r"(?=a)ab", bpe_tokenizer, engine="partial", vocab_size=vocab.size + 7)
    mask = guide.allowed_tokens(guide.initial_state)
    assert mask.shape == (vocab.size + 7,) and not mask[vocab.size:].any()
    assert guide.allowed_tokens(guide.initial_state) is mask  # memoized
    with pytest.raises(TokenRejected):
        guide.advance(guide.initial_state, vocab.size + 3)
    with pytest.raises(PatternSyntaxError):
        decoding.compile(r"(?<=a", bpe_tokenizer, engine="partial")
    with pytest.raises(ValueError, match="mask width"):
        decoding.compile(r"a", bpe_tokenizer, engine="partial", vocab_size=vocab.size - 1)


# --- generation ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generators(request):
    """A tiny random-weight Llama `Generator` per tokenizer fixture name."""
    made = {}

    def get(tok_name: str) -> Generator:
        if tok_name not in made:
            tokenizer = request.getfixturevalue(tok_name)
            made[tok_name] = Generator((tiny_llama(tokenizer, seed=3), tokenizer))
        return made[tok_name]

    return get


def _check_generation(gen: Generator, pattern: str, **options) -> None:
    """The generated text matches, or (out of tokens) is a prefix of a match; any other error
    (a dead end raises `GenerationError`) fails."""
    try:
        text = gen.generate("Say:", regex=pattern, engine="partial", **options)
    except IncompleteGeneration as e:  # its text ends in U+FFFD where a character was unfinished
        assert _viable(pattern, e.text.encode("utf-8").rstrip("\ufffd".encode())), e.text
        return
    assert regex.fullmatch(pattern, text), (pattern, text)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("pattern", ISSUE_PATTERNS + BEYOND_AUTOMATON + NON_ASCII[:2])
def test_sampled_generation_matches(generators, tok_name, pattern):
    gen = generators(tok_name)
    seeds = range(2) if tok_name == "smollm2_tokenizer" else range(5)
    for seed, jump in itertools.product(seeds, (True, False)):
        _check_generation(gen, pattern, temperature=1.0, seed=seed, max_new_tokens=8,
                          jump_forward=jump)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("pattern, text", [
    (r" (yes|no)", " no"),
    (r" (\w+) and \1\.", " cat and cat."),
    (r"(?!日)[é日本]{1,3}x", "本日éx"),
    (r"(?<![a-z])[A-Z]{2}", "AB"),
])
def test_steered_generation_says_the_match(generators, tok_name, pattern, text):
    """The model scripted to say a match says it through the partial guide (its tokenizer's
    own split of the text, multi-byte characters included)."""
    gen = generators(tok_name)
    expected = text
    said = gen.vocabulary.decode(gen.tokenizer.encode(text, add_special_tokens=False))
    if said != text.encode("utf-8"):  # SentencePiece's dummy prefix "▁" starts the text
        assert said == b" " + text.encode("utf-8")
        pattern, expected = f" (?:{pattern})", " " + text
    with Script(gen.model, gen.tokenizer, text):
        c = gen.complete("Say:", regex=pattern, engine="partial", max_new_tokens=12)
    assert c.text == expected and c.finish_reason == "pattern"


# --- the real default model ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("jump", [True, False])
def test_readme_example_on_the_default_model(default_gen, jump):
    c = default_gen.complete("Q: Is Annapolis in Maryland? A:", regex=r" (yes|no)",
                             engine="partial", max_new_tokens=10, jump_forward=jump)
    assert c.text in (" yes", " no") and c.finish_reason == "pattern"


@pytest.mark.slow
@pytest.mark.parametrize("prompt, pattern, expected", [
    ("Q: Name a fruit. A:", r" (?=a)[a-z]+\.", None),
    ("The two-letter country code of France is", r" (?<![a-z])[A-Z]{2}", " FR"),
    ("Q: Say cat twice. A: cat and cat.\nQ: Say dog twice. A:", r" (\w+) and \1\.",
     " dog and dog."),
])
def test_lookaround_and_backreference_on_the_default_model(default_gen, prompt, pattern,
                                                           expected):
    text = default_gen.generate(prompt, regex=pattern, engine="partial", max_new_tokens=12)
    assert regex.fullmatch(pattern, text) and text == (expected or text)
