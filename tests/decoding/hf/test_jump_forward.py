"""Jump-forward: forced bytes of automaton states, the forced tokens chosen for them, and the
generation loop feeding them in fewer forward passes while outputs still match.

Generation runs the tiny random-weight Llama (tests/tiny_models.py) with the SmolLM2 tokenizer.
"""

from __future__ import annotations

import jsonschema
import pytest
import regex

import decoding
from decoding import Generator, IncompleteGeneration, Vocabulary
from decoding.automaton.forced import ForcedText
from decoding.hf.jump import JumpForward
from tests.tiny_models import boost, record_inputs, tiny_llama

# --- forced bytes --------------------------------------------------------------------------

# (pattern, walked text, forced bytes expected there)
FORCED = [
    (r'\{"name": "[a-z]+", "age": [0-9]+\}', '', b'{"name": "'),
    (r'\{"name": "[a-z]+", "age": [0-9]+\}', '{"name": "ab"', b', "age": '),
    (r'\{"name": "[a-z]+", "age": [0-9]+\}', '{"name": "a', b''),      # [a-z]+ or '"'
    (r'\{"name": "[a-z]+", "age": [0-9]+\}', '{"name": "ab", "age": 4', b''),  # accepting ahead
    (r'(apple|apricot|banana)', '', b''),                               # branch point
    (r'(apple|apricot|banana)', 'a', b'p'),                             # common enum prefix
    (r'(apple|apricot|banana)', 'apr', b'icot'),
    (r'(apple|apricot|banana)', 'b', b'anana'),
    (r'ab(cd)?', '', b'ab'),                                            # stops at accepting
    (r'ab(cd)?', 'ab', b''),                                            # accepting: nothing
    (r'ab(cd)?', 'abc', b'd'),
    (r'[ab]c', '', b''),                                                # one class, two bytes
    (r'x[b]yz', '', b'xbyz'),
    (r'é!(a|b)', '', 'é!'.encode()),                                    # multi-byte character
    (r'日本(語|誌)', '', '日本'.encode() + b'\xe8\xaa'),               # stops inside a character
    (r'abc', 'abc', b''),                                               # finished
]


@pytest.fixture(scope="module")
def tiny_vocab() -> Vocabulary:
    # id 0: EOS; the rest: enough single bytes for the hand patterns, plus longer tokens.
    singles = sorted(set("abcdenrstxyz{}\":, 0123456789!"))
    table = [b""] + [c.encode() for c in singles] + [b"ab", b"abc", b"ba"]
    return Vocabulary.from_token_bytes(table, special_ids=[0], eos_token_ids=[0])


@pytest.mark.parametrize("pattern, walked, expected", FORCED)
def test_forced_bytes_by_hand(tiny_vocab, pattern, walked, expected):
    guide = decoding.compile(pattern, tiny_vocab, cache_dir=False)
    state = guide.automaton.walk(guide.initial_state, walked.encode())
    assert guide.forced_bytes(state) == expected
    assert guide.forced_bytes(state) is guide.forced_bytes(state)  # memoized


MATCHES = [
    (r'\{"id": "[A-Z]{2}", "tags": \[("[a-z]+"(, "[a-z]+")*)?\]\}',
     ['{"id": "AB", "tags": []}', '{"id": "QX", "tags": ["x", "yz", "w"]}']),
    (r'(Final Answer|Final Guess|Search)\("[^"]*"\)', ['Final Guess("a")', 'Search("")']),
    (r'(ab)*c|abx', ['ababc', 'abx', 'c']),
]


@pytest.mark.parametrize("pattern, texts", MATCHES)
def test_forced_bytes_are_sound_and_maximal(tiny_vocab, pattern, texts):
    """Along a match, the forced bytes at every point are where the match goes next; after them
    the automaton accepts, branches, or the walk stopped inside a one-byte run."""
    guide = decoding.compile(pattern, tiny_vocab, cache_dir=False)
    a = guide.automaton
    for text in texts:
        data = text.encode()
        for i in range(len(data) + 1):
            state = a.walk(guide.initial_state, data[:i])
            forced = guide.forced_bytes(state)
            assert data[i:].startswith(forced), (text, i, forced)
            end = a.walk(state, forced)
            live = [b for b in range(256) if a.step(end, b) != 0]
            assert a.is_accepting(end) or len(live) >= 2, (text, i, forced)


def test_forced_bytes_are_bounded(tiny_vocab):
    guide = decoding.compile(r"a{300}b", tiny_vocab, cache_dir=False)
    assert guide.forced_bytes(guide.initial_state) == b"a" * 256
    assert ForcedText(guide.automaton, limit=5)(guide.initial_state) == b"aaaaa"
    assert guide.forced_bytes(0) == b""  # the dead state


# --- forced tokens (tokenization of the forced text) ------------------------------------------


def _encoder(tiny_vocab, split: dict[str, list[bytes]]):
    ids = {b: i for i, b in enumerate(tiny_vocab.token_bytes) if b}
    return lambda text: [ids[piece] for piece in split[text]]


def test_back_off_where_a_longer_token_crosses_the_end(tiny_vocab):
    """Forced "abab", encoded ab|ab: where the second ab starts, "abc" is allowed and longer
    than the rest of the forced text, so only the first ab is forced."""
    guide = decoding.compile(r"abab(c|x)", tiny_vocab, cache_dir=False)
    plan = JumpForward(guide, _encoder(tiny_vocab, {"abab": [b"ab", b"ab"]}))
    ab = tiny_vocab.token_bytes.index(b"ab")
    assert plan(guide.initial_state) == (ab,)
    # Nothing longer crosses the end: the whole encoding is forced.
    guide = decoding.compile(r"abab(d|x)", tiny_vocab, cache_dir=False)
    plan = JumpForward(guide, _encoder(tiny_vocab, {"abab": [b"ab", b"ab"]}))
    assert plan(guide.initial_state) == (ab, ab)


def test_encodings_that_do_not_spell_the_forced_text_are_not_forced(tiny_vocab):
    guide = decoding.compile(r"abab(d|x)", tiny_vocab, cache_dir=False)
    for pieces in ([b" ", b"ab", b"ab"], [b"ab", b"a"], [b"ba", b"ba"]):
        plan = JumpForward(guide, _encoder(tiny_vocab, {"abab": pieces}))
        assert plan(guide.initial_state) == ()


def test_forced_tokens_on_the_real_tokenizer(smollm2_tokenizer):
    """SmolLM2: the planned tokens spell a prefix of the forced text, each is allowed in turn,
    and no allowed token at the last one's start reaches past the forced text."""
    tok = smollm2_tokenizer
    pattern = (r'\{"action": ?(?:"Final Answer"|"Search"), ?"action_input": ?"[a-z ]*"\}')
    guide = decoding.compile(pattern, tok)
    plan = JumpForward(guide, lambda t: tok(t, add_special_tokens=False)["input_ids"])
    vocab = guide.vocabulary
    planned = 0
    for walked in ['', '{"action": ', '{"action": "F', '{"action": "Search"', '{"action":"S']:
        state = guide.automaton.walk(guide.initial_state, walked.encode())
        forced = guide.forced_bytes(state)
        ids = plan(state)
        planned += bool(ids)
        assert forced.startswith(vocab.decode(ids))
        for t in ids:
            start, state = state, guide.advance(state, t)
        if ids:
            rest = len(forced) - (len(vocab.decode(ids)) - len(vocab.token_bytes[ids[-1]]))
            assert max(len(vocab.token_bytes[t]) for t in guide.allowed_token_ids(start)) <= rest
    assert planned >= 3


# --- the generation loop -------------------------------------------------------------------

ITEM = {
    "type": "object",
    "properties": {
        "action": {"enum": ["Final Answer", "Search", "Calculator"]},
        "action_input": {"type": "string", "maxLength": 12},
        "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    "required": ["action", "action_input", "confidence"],
    "additionalProperties": False,
}
PATTERNS = [
    r'\{"name": "[A-Za-z]{1,6}", "age": [0-9]{1,2}\}',
    r'(Final Answer|Final Guess|Search): "[a-z]{0,5}"',
    r'\[("[a-z]{1,3}", ){2}"[a-z]{1,3}"\]',
]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def model(smollm2_tokenizer):
    return tiny_llama(smollm2_tokenizer, seed=5)


@pytest.fixture(scope="module")
def gen(model, smollm2_tokenizer):
    return Generator((model, smollm2_tokenizer))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_outputs_match_with_fewer_forward_passes(gen, model, pattern):
    """40 seeds at temperature 1.0: outputs fullmatch, and with jump-forward the model is
    called fewer times than tokens are generated (without it: once per token)."""
    for seed in range(40):
        with record_inputs(model) as calls:
            c = gen.complete("Answer:", regex=pattern, temperature=1.0, seed=seed,
                             max_new_tokens=60)
        assert regex.fullmatch(pattern, c.text), (seed, c.text)
        assert len(calls) < c.num_tokens, (seed, c.text, calls)
        assert any(shape[1] > 1 for shape, cached in calls if cached)  # forced tokens fed
    with record_inputs(model) as calls:
        plain = gen.complete("Answer:", regex=pattern, temperature=1.0, seed=0,
                             max_new_tokens=60, jump_forward=False)
    assert regex.fullmatch(pattern, plain.text) and len(calls) == plain.num_tokens


def test_schema_outputs_validate(gen):
    for seed in range(40):
        value = gen.generate("Next action:", schema=ITEM, temperature=1.0, seed=seed,
                             max_new_tokens=80)
        jsonschema.validate(value, ITEM)


def test_batches_jump_per_row(gen, model):
    prompts = ["a", "Q: what next?\nA:", "The tool to use is"]
    for seed in range(10):
        with record_inputs(model) as calls:
            out = gen.complete(prompts, regex=PATTERNS[1], temperature=1.0, seed=seed,
                               max_new_tokens=40)
        assert all(regex.fullmatch(PATTERNS[1], c.text) for c in out), seed
        assert len(calls) < max(c.num_tokens for c in out)
    greedy = gen.generate(prompts, regex=PATTERNS[0], max_new_tokens=40)
    assert all(regex.fullmatch(PATTERNS[0], text) for text in greedy)


def test_a_fully_forced_pattern_needs_no_forward(gen, model, smollm2_tokenizer):
    text = 'Hello, world! {"ok": true}'
    with record_inputs(model) as calls:
        c = gen.complete("Say:", regex=regex.escape(text))
    assert c.text == text and c.finish_reason == "pattern" and calls == []
    assert c.num_tokens == len(smollm2_tokenizer.encode(text, add_special_tokens=False))


def test_forced_tokens_count_against_max_new_tokens(gen):
    with pytest.raises(IncompleteGeneration) as info:
        gen.generate("Say:", regex=r"one two three four five six seven", max_new_tokens=3)
    assert info.value.num_tokens == 3
    assert "one two three four five six seven".startswith(info.value.text)


def test_stop_string_inside_forced_text(gen):
    c = gen.complete("Say:", regex=r"(x|y)\nHuman:", stop=["Human:"], temperature=1.0, seed=1)
    assert c.text in ("x\n", "y\n") and c.finish_reason == "stop"


def test_stream_joins_to_the_complete_text(gen):
    pieces = list(gen.stream("Answer:", regex=PATTERNS[0], temperature=1.0, seed=4))
    assert "".join(pieces) == gen.generate("Answer:", regex=PATTERNS[0], temperature=1.0, seed=4)


def test_partial_engine_takes_ordinary_steps(gen, model, smollm2_tokenizer):
    steer = [smollm2_tokenizer.convert_tokens_to_ids(c) for c in "abcd"]
    steer.append(smollm2_tokenizer.eos_token_id)  # allowed only at the end
    with boost(model, steer, 100.0), record_inputs(model) as calls:
        c = gen.complete("Say:", regex=r"abc(d|e)", engine="partial")
    # The pattern is finished after "d": the row ends there, as with the automaton engine.
    assert c.text == "abcd" and c.finish_reason == "pattern" and len(calls) == c.num_tokens == 4


def test_jump_forward_must_be_a_bool(gen):
    with pytest.raises(decoding.UsageError, match="jump_forward"):
        gen.generate("x", regex="a", jump_forward="yes")
