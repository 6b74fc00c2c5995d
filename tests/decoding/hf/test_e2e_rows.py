"""Per-row constraints and partial streaming end to end on the embedded default model (SmolLM2).

Slow (marked `slow`; a few seconds each on a small CPU once the model is loaded), with short
`max_new_tokens`. The tiny-model tests of the same features are in test_rows.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from tests.json_values import grows
from tests.tiny_models import single_thread

pytestmark = pytest.mark.slow


class City(BaseModel):
    name: str
    country: str


class Sky(BaseModel):
    color: Literal["red", "green", "blue"]
    hex: Annotated[str, Field(pattern=r"^#[0-9a-f]{6}$")]


class Verdict(BaseModel):
    answer: bool
    confidence: Annotated[int, Field(ge=0, le=100)]


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


PARIS = ask("Describe Paris as JSON with name and country.")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with single_thread():  # robust timings on a shared machine
        yield


def test_partial_objects_grow_to_the_generated_instance(default_gen):
    options = dict(schema=City, max_new_tokens=30, temperature=0.7, seed=1)
    *partials, final = default_gen.stream(PARIS, partial=True, **options)
    assert final == default_gen.generate(PARIS, **options)
    assert isinstance(final, City) and final.name == "Paris"
    assert len(partials) >= 3 and all(type(p) is dict for p in partials)
    assert all(grows(a, b) for a, b in zip(partials, partials[1:]))
    assert grows(partials[-1], final.model_dump())


def test_a_batch_with_three_schemas(default_gen):
    prompts = [PARIS, ask("What color is the sky? Answer as JSON with color and hex."),
               ask("Is water wet? Answer as JSON.")]
    city, sky, verdict = default_gen.complete(prompts, schema=[City, Sky, Verdict],
                                              max_new_tokens=30)
    assert isinstance(city.value, City) and city.value.name == "Paris"
    assert isinstance(sky.value, Sky) and isinstance(verdict.value, Verdict)
    assert {city.finish_reason, sky.finish_reason, verdict.finish_reason} == {"pattern"}
    assert city.num_tokens != sky.num_tokens  # the rows ended on their own
