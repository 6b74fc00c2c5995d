"""`on_length="finish"` and reasoning sections on the embedded default model (SmolLM2-135M).

- 50 seeded sampled runs over 5 schemas (nested objects, an array with minItems, required and
  optional fields, enums, numbers with bounds): per schema, batches of 5 prompts at the smallest
  budget the bound admits and at one budget up to 60 tokens (24 to 60 over the schemas); every
  run returns a validating object within its budget.
- A Pydantic model whose shortest JSON spells in 15 tokens finishes within 40 (the issue's case).
- `max_reasoning_tokens=8`: a validating object and the reasoning text.
Slow (marked `slow`): about 70 s of calls on a busy 2-core machine, plus the default model's
load (shared with the other slow tests through the session fixture `default_gen`).
"""

from __future__ import annotations

import jsonschema
import pytest
from pydantic import BaseModel, Field

from decoding.hf.budget import budget_of
from decoding.hf.constraint import make_constraint
from tests.tiny_models import single_thread

pytestmark = pytest.mark.slow

SCHEMAS = {
    "nested": {"type": "object", "required": ["user", "id"], "properties": {
        "user": {"type": "object", "required": ["name", "address"], "properties": {
            "name": {"type": "string"},
            "address": {"type": "object", "required": ["city"],
                        "properties": {"city": {"type": "string"}}}}},
        "id": {"type": "integer"}}},
    "min_items": {"type": "object", "required": ["tags"], "properties": {
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3}}},
    "required": {"type": "object", "required": ["title", "year"], "properties": {
        "title": {"type": "string"}, "year": {"type": "integer"},
        "subtitle": {"type": "string"}, "pages": {"type": "integer"}}},
    "enums": {"type": "object", "required": ["color", "size"], "properties": {
        "color": {"enum": ["red", "green", "blue"]},
        "size": {"type": "string", "enum": ["small", "medium", "large"]}}},
    "bounds": {"type": "object", "required": ["x", "n"], "properties": {
        "x": {"type": "number", "minimum": -5, "maximum": 5},
        "n": {"type": "integer", "minimum": 10, "maximum": 20}}},
}
PROMPTS = [[{"role": "user", "content": "Write a long, detailed JSON object about a book."}],
           "Here is the record, as JSON with many details:",
           [{"role": "user", "content": "Give me JSON for a record. Be verbose."}],
           "Record (JSON):",
           [{"role": "user", "content": "A JSON object please, with long strings."}]]
MIDDLE = {"nested": 60, "min_items": 24, "required": 48, "enums": 36, "bounds": 30}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with single_thread():
        yield


def smallest_budget(gen, schema) -> int:
    guide = gen.guide(make_constraint(schema=schema))
    return budget_of(guide).bound(guide.initial_state)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_fifty_sampled_runs_finish(default_gen, name):
    """Per schema: the smallest budget and one up to 60, five sampled rows each (10 runs)."""
    schema = SCHEMAS[name]
    smallest = smallest_budget(default_gen, schema)
    assert smallest <= 20
    for seed, budget in enumerate([smallest, MIDDLE[name]]):
        outs = default_gen.complete(PROMPTS, schema=schema, max_new_tokens=budget,
                                    on_length="finish", temperature=1.0, seed=seed)
        for out in outs:
            jsonschema.validate(out.value, schema)
            assert out.num_tokens <= budget


class Review(BaseModel):
    title: str
    stars: int = Field(ge=1, le=5)
    author: str
    year: int


def test_fifteen_token_model_finishes_within_forty(default_gen):
    assert smallest_budget(default_gen, Review) == 15
    prompt = [{"role": "user", "content": "Review a very long novel in JSON, with a long title."}]
    outs = default_gen.complete([prompt] * 2, schema=Review, max_new_tokens=40,
                                on_length="finish", temperature=1.0, seed=0)
    for out in outs:
        assert isinstance(out.value, Review) and out.num_tokens <= 40


def test_reasoning_with_eight_tokens(default_gen):
    prompt = [{"role": "user", "content": "Think, then give the enum record as JSON."}]
    out = default_gen.complete(prompt, schema=SCHEMAS["enums"], reasoning=("<think>", "</think>"),
                               max_reasoning_tokens=8, max_new_tokens=60, temperature=0.7,
                               seed=0)
    jsonschema.validate(out.value, SCHEMAS["enums"])
    assert out.reasoning and "</think>" not in out.reasoning
    thought = out.text[: out.text.index("</think>")]
    assert len(default_gen.tokenizer(thought, add_special_tokens=False)["input_ids"]) <= 10
