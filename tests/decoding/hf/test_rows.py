"""Per-row constraints in a batch and `stream(..., partial=True)` on a tiny random Llama.

The tiny model (tests/tiny_models.py) has the real SmolLM2 tokenizer, so the masks are the real
ones; `Script` makes it write a given text. The end-to-end tests on SmolLM2 are in
test_e2e_default_model.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
import regex
from pydantic import BaseModel, Field

import decoding
from decoding import IncompleteGeneration, PatternError, UsageError
from decoding.hf.partial_json import NOTHING
from tests.json_values import grows
from tests.tiny_models import Script, record_inputs

pytestmark = pytest.mark.usefixtures("torch_one_thread")

PROMPTS = ["The answer is", "Q: give me a value.\nA:", "x"]
ROW_PATTERNS = [r"(yes|no|maybe)", r'\{"name": "[a-z]{1,5}", "n": [0-9]{1,2}\}', r"[0-9]{2,4}"]


class Pet(BaseModel):  # bounded fields: a random model always completes them in time
    name: Annotated[str, Field(max_length=4)]
    kind: Literal["cat", "dog"]


class Point(BaseModel):
    x: Annotated[int, Field(ge=-9, le=99)]
    y: Annotated[int, Field(ge=0, le=9)]


class Person(BaseModel):
    name: str
    tags: list[str]
    age: int


# --- per-row constraints -----------------------------------------------------------------


@pytest.mark.parametrize("jump_forward", [True, False])
def test_each_row_follows_its_own_pattern(gen, jump_forward):
    """Sampled rows under three different patterns: every row matches its own, and greedy
    batches equal the rows generated one by one."""
    for seed in range(12):
        outs = gen.generate(PROMPTS, regex=ROW_PATTERNS, temperature=1.0, seed=seed,
                            max_new_tokens=40, jump_forward=jump_forward)
        for pattern, out in zip(ROW_PATTERNS, outs):
            assert regex.fullmatch(pattern, out), (pattern, out)
    alone = [gen.generate(p, regex=r, max_new_tokens=40, jump_forward=jump_forward)
             for p, r in zip(PROMPTS, ROW_PATTERNS)]
    assert gen.generate(PROMPTS, regex=ROW_PATTERNS, max_new_tokens=40,
                        jump_forward=jump_forward) == alone


def test_each_row_is_parsed_by_its_own_schema(gen):
    json_schema = {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 3}
    for seed in range(6):
        pet, point, flags = gen.generate(PROMPTS, schema=[Pet, Point, json_schema],
                                         temperature=1.0, seed=seed, max_new_tokens=60,
                                         whitespace="")
        assert isinstance(pet, Pet) and isinstance(point, Point)
        assert isinstance(flags, list) and 1 <= len(flags) <= 3 \
            and all(isinstance(f, bool) for f in flags)


def test_a_none_entry_leaves_its_row_unconstrained(gen, model, tok):
    with Script(model, tok, "hello there"):
        plain, digits = gen.complete(PROMPTS[:2], regex=[None, r"[0-9]{3}"], max_new_tokens=3)
    assert plain.value == plain.text and plain.finish_reason == "length"
    assert regex.fullmatch(r"[0-9]{3}", digits.value) and digits.finish_reason == "pattern"


def test_rows_finish_on_their_own(gen, model):
    """A row whose pattern is done stops consuming; the long one goes on to its end."""
    with record_inputs(model) as calls:
        short, long = gen.complete(PROMPTS[:2], regex=["a", r"[a-z]{6}"], max_new_tokens=20,
                                   jump_forward=False)
    assert (short.text, short.num_tokens, short.finish_reason) == ("a", 1, "pattern")
    assert long.finish_reason == "pattern" and len(long.text) == 6
    assert len(calls) == long.num_tokens  # the prompt forward, then one per token but the last


def test_an_incomplete_row_is_reported_by_index(gen):
    with pytest.raises(IncompleteGeneration, match=r"\(prompt 1\)") as info:
        gen.generate(PROMPTS[:2], regex=["(yes|no)", r"[0-9]{8}"], max_new_tokens=3)
    first, second = info.value.completions
    assert first.value in ("yes", "no") and second.value is None


def test_an_empty_pattern_row_needs_no_token(gen):
    empty, other = gen.complete(PROMPTS[:2], regex=["", "(yes|no)"])
    assert (empty.text, empty.num_tokens, empty.finish_reason) == ("", 0, "pattern")
    assert other.value in ("yes", "no")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(prompt="hi", regex=["a"]), UsageError, "needs a list of prompts"),
    (dict(prompt=["a", "b"], regex=["a"]), UsageError, "1 entries for 2 prompts"),
    (dict(prompt=["a", "b"], schema=[Pet, Point, Pet]), UsageError, "3 entries for 2 prompts"),
    (dict(prompt=["a", "b"], schema=[Pet, None], regex=["a", None]), UsageError, "not both"),
    (dict(prompt=["a", "b"], regex=["a", "(b"]), PatternError, "position"),
    (dict(prompt=["a", "b"], regex=["a", 3]), UsageError, "regex must be"),
])
def test_bad_row_constraints_fail_before_the_model_loads(monkeypatch, kwargs, error, match):
    monkeypatch.setattr(decoding.hf.generation, "resolve_model",
                        lambda *a, **k: pytest.fail("model resolved first"))
    with pytest.raises(error, match=match) as info:
        decoding.generate(kwargs.pop("prompt"), model="/no/such/model", **kwargs)
    if error is PatternError:
        assert "(in regex[1])" in info.value.__notes__


# --- partial objects while streaming -----------------------------------------------------


def test_partial_values_grow_and_end_with_the_validated_instance(gen, model, tok):
    text = '{"name": "Ada Lovelace", "tags": ["math", "engines"], "age": 36}'
    with Script(model, tok, text):
        values = list(gen.stream(PROMPTS[0], schema=Person, partial=True, max_new_tokens=40,
                                 whitespace=" ?"))
    with Script(model, tok, text):
        expected = gen.generate(PROMPTS[0], schema=Person, max_new_tokens=40, whitespace=" ?")
    *partials, final = values
    assert final == expected == Person(name="Ada Lovelace", tags=["math", "engines"], age=36)
    assert len(partials) >= 5 and all(type(p) is dict for p in partials)
    assert all(grows(a, b) for a, b in zip(partials, partials[1:]))
    assert all(a != b for a, b in zip(partials, partials[1:]))  # only changes are yielded
    assert {"name": "Ada Lovelace", "tags": ["math"]} in partials
    assert NOTHING not in partials


def test_partial_values_under_sampling_match_the_value(gen):
    for seed in range(5):
        *partials, final = gen.stream(PROMPTS[1], schema=Pet, partial=True, temperature=1.0,
                                      seed=seed, max_new_tokens=60, whitespace="")
        assert final == gen.generate(PROMPTS[1], schema=Pet, temperature=1.0, seed=seed,
                                     max_new_tokens=60, whitespace="")
        assert all(grows(a, b) for a, b in zip(partials, partials[1:]))
        assert all(grows(p, final.model_dump()) for p in partials)


def test_partial_raises_incomplete_at_the_end(gen):
    values = []
    with pytest.raises(IncompleteGeneration):
        for value in gen.stream(PROMPTS[0], schema=Person, partial=True, max_new_tokens=6):
            values.append(value)
    assert values and all(type(v) is dict for v in values)


@pytest.mark.parametrize("kwargs, match", [
    (dict(regex="[0-9]+", partial=True), "needs schema="),
    (dict(partial=True), "needs schema="),
    (dict(schema=Pet, partial="yes"), "partial must be True or False"),
])
def test_partial_argument_errors(monkeypatch, kwargs, match):
    monkeypatch.setattr(decoding.hf.generation, "resolve_model",
                        lambda *a, **k: pytest.fail("model resolved first"))
    with pytest.raises(UsageError, match=match):
        decoding.stream("hi", model="/no/such/model", **kwargs)
