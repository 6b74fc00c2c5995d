"""Budgets that still parse (`on_length="finish"`, decoding.hf.budget) and reasoning sections
(`reasoning=`, decoding.hf.reasoning), on a tiny random-weight Llama with the real SmolLM2
tokenizer (real masks; random weights are the hardest user: they would ramble forever).

What is checked:
- the witness invariant of the bound: along random walks, the witness is allowed and lowers the
  bound by at least one; the bound is at most the byte distance (a plan spells a shortest
  completion with at most one token per byte) and at least the byte distance over the longest token;
- sampled runs at every budget from the smallest the bound admits up to a few more: every output
  fullmatches, uses at most the budget, with and without jump-forward, in batches; a budget one
  token too small raises IncompleteGeneration before generating;
- reasoning sections: the value is the answer's, `Completion.reasoning` the free text,
  `max_reasoning_tokens` forces the closing marker (also mid-character), stream yields the
  whole text; option errors are UsageErrors.
About 25 s on a busy 2-core machine.
"""

from __future__ import annotations

import random

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decoding import IncompleteGeneration, UsageError
from decoding.automaton.shortest import distance
from decoding.hf.budget import budget_of
from decoding.hf.constraint import make_constraint
from decoding.tokens.spelling import speller_of
from tests.tiny_models import Script

PATTERNS = [
    r'\{"name": "[a-z ]*", "tags": \[("[a-z]+"(, "[a-z]+"){1,})?\], "n": -?[0-9]+\}',
    r"(yes|no|maybe|perhaps not)( because [a-z ]+)?",
    r"[🎉日本é]+!",
    r"(\d{3}-){1,2}\d{4}",
    r'\[(\{"x": (true|false)\}(, )?){2,}\]',
]

pytestmark = pytest.mark.usefixtures("torch_one_thread")
TINY_SEED = 1  # the tiny model of the `gen` fixture (tests/conftest.py)


def guide_of(gen, pattern):
    return gen.guide(make_constraint(regex=pattern))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_witness_lowers_the_bound(gen, pattern):
    guide = guide_of(gen, pattern)
    budget = budget_of(guide)
    longest = int(guide.vocabulary.lengths.max())
    rng = random.Random(0)
    for _ in range(5):
        state = guide.initial_state
        for _ in range(30):
            bytes_left = distance(guide.automaton.expression_of(state))
            bound = budget.bound(state)
            assert -(-bytes_left // longest) <= bound <= bytes_left
            if guide.is_accepting(state):
                assert bound == 0
            else:
                w = budget.witness(state)
                assert bool(guide.allowed_tokens(state)[w])
                assert budget.bound(guide.advance(state, w)) <= bound - 1
            ids = guide.allowed_token_ids(state)
            if not len(ids):
                break
            state = guide.advance(state, int(rng.choice(ids.tolist())))


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("jump_forward", [True, False])
def test_every_budget_from_the_smallest_finishes(gen, pattern, jump_forward):
    smallest = budget_of(guide_of(gen, pattern)).bound(guide_of(gen, pattern).initial_state)
    compiled = regex.compile(pattern)
    for budget in range(smallest, smallest + 4):
        for seed in range(2):
            outs = gen.complete(["The answer is", "x"], regex=pattern, max_new_tokens=budget,
                                on_length="finish", temperature=1.0, seed=seed,
                                jump_forward=jump_forward)
            for out in outs:
                assert compiled.fullmatch(out.text), (budget, out)
                assert out.num_tokens <= budget
    if smallest > 1:
        with pytest.raises(IncompleteGeneration, match="nothing was generated"):
            gen.generate("x", regex=pattern, max_new_tokens=smallest - 1, on_length="finish")


def test_raise_stays_the_default(gen):
    with pytest.raises(IncompleteGeneration):
        gen.generate("x", regex=PATTERNS[0], max_new_tokens=12, temperature=1.0, seed=0)


def test_finish_reason_is_length_when_the_budget_steered(gen):
    out = gen.complete("x", regex=r"[a-z]{0,200}\.", max_new_tokens=5, on_length="finish",
                       temperature=1.0, seed=0)
    assert out.text.endswith(".") and out.finish_reason == "length"
    roomy = gen.complete("x", regex=r"(yes|no)", max_new_tokens=50, on_length="finish")
    assert roomy.finish_reason == "pattern"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(PATTERNS), st.integers(0, 8), st.integers(0, 10_000))
def test_random_budgets_and_seeds(gen, pattern, extra, seed):
    guide = guide_of(gen, pattern)
    budget = budget_of(guide).bound(guide.initial_state) + extra
    out = gen.complete("Q:", regex=pattern, max_new_tokens=budget, on_length="finish",
                       temperature=1.5, seed=seed)
    assert regex.fullmatch(pattern, out.text) and out.num_tokens <= budget


def test_spelling(gen):
    vocabulary = gen.vocabulary
    speller = speller_of(vocabulary)
    data = "héllo </think> 日本".encode()
    ids = speller.spell(data)
    assert not speller.byte_complete  # SmolLM2 lacks a few bytes (e.g. 0x04) as tokens
    assert len(ids) < len(data) and speller.spell(bytes([4])) is None
    assert b"".join(vocabulary.token_bytes[i] for i in ids) == data


# --- reasoning ---------------------------------------------------------------------------------

THINK = ("<think>", "</think>")


def test_reasoning_value_and_text(gen, tok):
    with Script(gen.model, tok, "<think>two and two</think>yes"):
        out = gen.complete("Q:", regex="yes|no", reasoning=THINK, max_new_tokens=30)
    assert out.value == "yes" and out.reasoning == "two and two"
    assert out.text == "<think>two and two</think>yes"


@pytest.mark.parametrize("limit", [0, 3, 8])
def test_max_reasoning_tokens_forces_the_marker(gen, limit):
    for seed in range(3):
        out = gen.complete("Q:", regex=r"(yes|no)", reasoning=THINK, max_new_tokens=60,
                           max_reasoning_tokens=limit, temperature=1.0, seed=seed)
        assert out.value in ("yes", "no")
        assert "</think>" not in out.reasoning
        thought = out.text[: out.text.index("</think>")]
        assert len(gen.tokenizer(thought, add_special_tokens=False)["input_ids"]) <= limit + 3


def test_marker_forced_after_an_open_character(gen, tok):
    """The model stops inside a 3-byte character: the character is completed first."""
    with Script(gen.model, tok, "日本日本日本日本"):
        out = gen.complete("Q:", regex=r"(yes|no)", reasoning=THINK, max_new_tokens=40,
                           max_reasoning_tokens=1)
    # 日 is b"\xe6\x97" + b"\xa5": the smallest continuation completes it as U+65C0
    assert out.value in ("yes", "no") and out.reasoning == "\u65c0"


def test_reasoning_with_a_schema_and_a_budget(gen):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    for seed in range(3):
        out = gen.complete("Q:", schema=schema, reasoning=THINK, max_new_tokens=20,
                           on_length="finish", temperature=1.0, seed=seed)
        assert isinstance(out.value["ok"], bool) and out.num_tokens <= 20


def test_stream_yields_the_whole_text(gen):
    kwargs = dict(regex="yes|no", reasoning=THINK, max_new_tokens=40, max_reasoning_tokens=5,
                  temperature=1.0, seed=4)
    assert "".join(gen.stream("Q:", **kwargs)) == gen.complete("Q:", **kwargs).text


@pytest.mark.parametrize("keywords, message", [
    ({"on_length": "stop"}, "on_length"),
    ({"on_length": "finish", "engine": "partial"}, "automaton engine"),
    ({"reasoning": ("<think>",)}, "pair of non-empty"),
    ({"reasoning": ("", "</think>")}, "pair of non-empty"),
    ({"max_reasoning_tokens": 4}, "max_reasoning_tokens"),
    ({"reasoning": THINK, "max_reasoning_tokens": -1}, "max_reasoning_tokens"),
])
def test_option_errors(gen, keywords, message):
    with pytest.raises(UsageError, match=message):
        gen.generate("x", regex="a", **keywords)


def test_reasoning_needs_a_constraint(gen):
    with pytest.raises(UsageError, match="needs schema= or regex="):
        gen.generate("x", reasoning=THINK)


def test_a_budget_does_not_keep_its_guide_alive(gen):
    import gc
    import weakref

    from decoding import compile

    guide = compile("(ab)+c", gen.vocabulary)
    assert budget_of(guide).bound(guide.initial_state) >= 1
    ref = weakref.ref(guide)
    del guide
    gc.collect()
    assert ref() is None


def test_an_unspellable_completion_is_refused_before_generating(gen):
    """SmolLM2 has no token for the byte 0x04: no budget can promise to write it."""
    with pytest.raises(IncompleteGeneration, match="cannot be spelled|can be spelled"):
        gen.generate("x", regex="\x04", max_new_tokens=50, on_length="finish")


# --- with per-row constraints and partial values (decoding.hf.generation) ---------------------


def test_each_row_of_a_batch_has_its_own_budget(gen):
    """Three rows, three patterns, one small budget: each row is steered by its own guide."""
    patterns = [PATTERNS[0], PATTERNS[3], PATTERNS[4]]
    budget = max(budget_of(guide_of(gen, p)).bound(guide_of(gen, p).initial_state)
                 for p in patterns)
    for seed in range(3):
        outs = gen.complete(["a", "b", "c"], regex=patterns, max_new_tokens=budget,
                            on_length="finish", temperature=1.0, seed=seed)
        for pattern, out in zip(patterns, outs):
            assert regex.fullmatch(pattern, out.value) and out.num_tokens <= budget


def test_a_batch_row_whose_budget_is_too_small_is_refused(gen):
    small = budget_of(guide_of(gen, PATTERNS[0])).bound(guide_of(gen, PATTERNS[0]).initial_state)
    with pytest.raises(IncompleteGeneration):
        gen.generate(["a", "b"], regex=["yes|no", PATTERNS[0]], max_new_tokens=small - 1,
                     on_length="finish")


def test_reasoning_applies_to_every_row(gen, tok):
    outs = gen.complete(["a", "b"], regex=["yes|no", "[0-9]{2}"], reasoning=THINK,
                        max_reasoning_tokens=3, max_new_tokens=30, temperature=1.0, seed=2)
    assert outs[0].value in ("yes", "no") and regex.fullmatch("[0-9]{2}", outs[1].value)
    assert all(o.reasoning is not None and "</think>" not in o.reasoning for o in outs)
    with pytest.raises(UsageError, match="for every prompt"):
        gen.generate(["a", "b"], regex=["yes|no", None], reasoning=THINK)


def test_partial_values_skip_the_reasoning_section(gen, tok):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    text = '<think>{"ok": "not json"}</think>{"ok": true}'
    with Script(gen.model, tok, text):
        *partials, final = gen.stream("Q:", schema=schema, reasoning=THINK, partial=True,
                                      max_new_tokens=40, whitespace=" ?")
    assert final == {"ok": True}
    assert partials and all(p in ({}, {"ok": True}) for p in partials)
