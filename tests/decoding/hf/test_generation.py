"""The masked generation loop, `Generator`, `generate` and `RegexLogitsProcessor`.

Every test runs a tiny random-weight Llama (tests/tiny_models.py) with the real SmolLM2 tokenizer,
so the masks are the real ones and a call takes milliseconds. Hooks on the model steer it where a
test needs a particular behaviour (`Script` forces a text, `boost` favours some ids).
"""

from __future__ import annotations

import enum
import json
from typing import Annotated, Literal

import pytest
import regex
import torch
from pydantic import BaseModel, Field

import decoding
from decoding import (
    Generator,
    IncompleteGeneration,
    ModelLoadError,
    PatternError,
    RegexLogitsProcessor,
    UsageError,
)
from decoding.util import LRU
from schema2re.errors import SchemaError, UnsupportedSchemaError
from tests.tiny_models import Script, boost, record_inputs, tiny_llama

PROMPTS = ["The answer is", "Q: give me a value.\nA:", "x"]

# Bounded patterns: a random model always completes them well within max_new_tokens.
PATTERNS = [
    r"-?(0|[1-9][0-9]{0,3})(\.[0-9]{1,2})?",
    r"(yes|no|maybe|perhaps not)",
    r'"[a-z ]{0,8}"',
    r'\{"name": "[A-Za-z]{1,6}", "age": [0-9]{1,2}\}',
    r"[🎉日本é]{1,3}!",
    r"a.{0,4}z",
    r"(\d{3}-){1,2}\d{4}",
]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def vocab_text(generator: Generator, ids) -> str:
    return generator.vocabulary.decode(ids).decode("utf-8")


# --- the guarantee under random weights ----------------------------------------------------


@pytest.mark.parametrize("pattern", PATTERNS)
def test_sampled_outputs_always_match(gen, pattern):
    """200 seeds at temperature 1.0: every output fullmatches (batches of two prompts)."""
    compiled = regex.compile(pattern)
    for seed in range(200 // len(PATTERNS) + 1):
        outs = gen.generate(PROMPTS[:2], regex=pattern, temperature=1.0, seed=seed,
                            max_new_tokens=48)
        for out in outs:
            assert compiled.fullmatch(out), (pattern, seed, out)


def test_random_model_does_not_match_on_its_own(gen):
    """The check above can fail: unconstrained, the same model almost never matches."""
    hits = sum(bool(regex.fullmatch(PATTERNS[0], gen.generate(PROMPTS[0], temperature=1.0,
                                                              seed=s, max_new_tokens=4)))
               for s in range(20))
    assert hits <= 2


def test_sampling_with_top_p_still_matches(gen):
    for seed in range(10):
        out = gen.generate(PROMPTS[0], regex=PATTERNS[3], temperature=0.7, top_p=0.9, seed=seed,
                           max_new_tokens=48)
        assert regex.fullmatch(PATTERNS[3], out)


class Item(BaseModel):
    name: Annotated[str, Field(max_length=6)]
    count: Annotated[int, Field(ge=0, le=999)]
    kind: Literal["a", "b"]
    flags: Annotated[list[bool], Field(max_length=2)]


ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}$"},
        "score": {"type": "integer", "minimum": -50, "maximum": 50},
        "label": {"enum": ["red", "green", None]},
        "note": {"type": "string", "maxLength": 4},
    },
    "required": ["id", "score", "label"],
    "additionalProperties": False,
}


def test_sampled_schema_outputs_always_validate(gen):
    """100 seeds per schema at temperature 1.0: a Pydantic instance / a value that validates."""
    import jsonschema

    for seed in range(100):
        item = gen.generate(PROMPTS[0], schema=Item, temperature=1.0, seed=seed,
                            max_new_tokens=64)
        assert isinstance(item, Item)
        value = gen.generate(PROMPTS[1], schema=ITEM_SCHEMA, temperature=1.0, seed=seed,
                             max_new_tokens=64)
        jsonschema.validate(value, ITEM_SCHEMA)


# --- loop mechanics ------------------------------------------------------------------------


def test_kv_cache_is_reused_and_generation_stops_at_once(gen, model, tok):
    with record_inputs(model) as calls:
        c = gen.complete(PROMPTS[0], regex=r"[0-9]{4}", max_new_tokens=50)
    prompt_len = len(tok(PROMPTS[0])["input_ids"])
    assert c.finish_reason == "pattern" and len(c.text) == 4
    assert len(calls) == c.num_tokens  # no forward after the pattern finished
    assert calls[0] == ((1, prompt_len), False)
    assert all(call == ((1, 1), True) for call in calls[1:])


def test_eos_only_where_the_pattern_accepts(gen, model, tok):
    with boost(model, [tok.eos_token_id], 50.0):
        assert gen.generate(PROMPTS[0], max_new_tokens=5) == ""  # the boost works
        for seed in range(5):
            c = gen.complete(PROMPTS[0], regex=r"[a-z]{3,30}", temperature=1.0, seed=seed)
            assert c.finish_reason == "eos" and 3 <= len(c.text) <= 30
            # EOS was taken at the first accepting point: the text before the last token is short
            assert len(c.text) - len(vocab_text(gen, tok.encode(c.text)[-1:])) < 3


def test_limit_reached_in_an_accepting_state_returns(gen):
    c = gen.complete(PROMPTS[0], regex=r"[0-9]{2}[0-9]*", max_new_tokens=2)
    assert c.finish_reason == "length" and regex.fullmatch(r"[0-9]{2}", c.text)


def test_limit_reached_before_acceptance_raises(gen):
    with pytest.raises(IncompleteGeneration) as info:
        gen.generate(PROMPTS[0], regex=r"[0-9]{6}", max_new_tokens=3)
    assert info.value.num_tokens == 3 and regex.fullmatch(r"[0-9]{3}", info.value.text)


def test_an_incomplete_row_keeps_the_other_rows_of_its_batch(gen):
    pattern = r"x|[0-9]{5}"
    for seed in range(60):  # sampled rows: find a batch where one row ends and another does not
        try:
            gen.generate(PROMPTS[:2], regex=pattern, max_new_tokens=2, temperature=1.0,
                         seed=seed)
        except IncompleteGeneration as raised:
            exc, rows = raised, raised.completions
            if {c.value for c in rows} == {None, "x"}:
                break
    else:
        pytest.fail("no batch mixed a finished and an incomplete row")
    assert len(rows) == 2 and f"prompt {[c.value for c in rows].index(None)}" in str(exc)
    done, cut = sorted(rows, key=lambda c: c.value is None)
    assert (done.text, done.finish_reason) == ("x", "pattern")
    assert cut.finish_reason == "length" and regex.fullmatch(r"[0-9]{1,2}", cut.text)
    assert (exc.text, exc.num_tokens) == (cut.text, cut.num_tokens)


def test_plain_generation_hits_the_limit_quietly(gen):
    c = gen.complete(PROMPTS[0], max_new_tokens=3, temperature=1.0, seed=1)
    assert c.num_tokens == 3 and c.finish_reason == "length" and c.value == c.text


def test_empty_pattern_needs_no_forward(gen, model):
    with record_inputs(model) as calls:
        assert gen.generate(PROMPTS[0], regex=r"(?:)") == ""
    assert calls == []


def test_seed_reproduces_and_seeds_differ(gen):
    runs = [gen.generate(PROMPTS[1], regex=PATTERNS[0], temperature=1.0, seed=s)
            for s in (7, 7, 8, 9, 10)]
    assert runs[0] == runs[1]
    assert len(set(runs)) >= 3
    assert gen.generate(PROMPTS[1], regex=PATTERNS[0]) == gen.generate(PROMPTS[1],
                                                                       regex=PATTERNS[0])


def test_batch_equals_one_by_one(tok):
    g = Generator((tiny_llama(tok, seed=3, dtype=torch.float64), tok))
    for pattern in (PATTERNS[3], None):
        batch = g.generate(PROMPTS, regex=pattern, max_new_tokens=24)
        assert batch == [g.generate(p, regex=pattern, max_new_tokens=24) for p in PROMPTS]


def test_batch_rows_finish_independently(gen, model):
    with record_inputs(model) as calls:
        out = gen.complete(PROMPTS, regex=r"(a|bbbbbbbbbbbbbb)", max_new_tokens=30,
                           temperature=1.0, seed=0, jump_forward=False)  # a step per token
    assert all(c.text in ("a", "bbbbbbbbbbbbbb") for c in out)
    assert len(calls) == max(c.num_tokens for c in out)


def test_chat_messages_use_the_chat_template(gen, model, tok):
    messages = [{"role": "user", "content": "Say a number."}]
    expected = tok(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True),
                   add_special_tokens=False)["input_ids"]
    seen = []
    handle = model.register_forward_pre_hook(
        lambda m, a, kw: seen.append(kw["input_ids"][0].tolist()), with_kwargs=True)
    try:
        out = gen.generate(messages, regex=r"[0-9]{2}")
    finally:
        handle.remove()
    assert seen[0] == expected and regex.fullmatch(r"[0-9]{2}", out)
    both = gen.generate([messages, "plain"], regex=r"[0-9]{2}")
    assert both[0] == out and len(both) == 2


def test_wider_logits_never_yield_ids_past_the_vocabulary(tok):
    model = tiny_llama(tok, seed=1, extra_vocab=64)
    g = Generator((model, tok))
    assert g.vocab_size == len(tok) + 64
    extra = list(range(len(tok), len(tok) + 64))
    with boost(model, extra, 100.0):
        assert regex.fullmatch(PATTERNS[0], g.generate("n =", regex=PATTERNS[0]))
        c = g.complete("n =", max_new_tokens=3, temperature=1.0, seed=0)
    assert c.num_tokens == 3


# --- stop strings and streaming --------------------------------------------------------------


def test_stop_string_is_cut_plain(gen, model, tok):
    with Script(model, tok, "Paris.\nHuman: next"):
        c = gen.complete(PROMPTS[0], stop=["Human:"], max_new_tokens=20)
    assert c.text == "Paris.\n" and c.finish_reason == "stop"


def test_stop_string_under_a_pattern_rellm_style(gen, model, tok):
    pattern = r'\{"a": "[^"]*"\}\nHuman:'
    with Script(model, tok, '{"a": "Human: hi"}\nHuman:'):
        # Script steers one forward per token: without jump-forward.
        c = gen.complete(PROMPTS[0], regex=pattern, stop=["Human:"], max_new_tokens=40,
                         jump_forward=False)
    # The stop string inside the JSON string is not a place the pattern accepts: ignored.
    assert c.text == '{"a": "Human: hi"}\n' and c.finish_reason == "stop"


def test_stream_joins_to_the_complete_text(gen, model, tok):
    text = 'Tokyo 東京 🎉 done.\nHuman: more'
    with Script(model, tok, text):
        pieces = list(gen.stream(PROMPTS[0], stop=["\nHuman:"], max_new_tokens=30))
    assert "".join(pieces) == "Tokyo 東京 🎉 done."
    assert len(pieces) > 3 and all("\ufffd" not in p for p in pieces)
    assert not any("Human" in p for p in pieces)
    pieces = list(gen.stream(PROMPTS[0], regex=PATTERNS[4], temperature=1.0, seed=3))
    assert "".join(pieces) == gen.generate(PROMPTS[0], regex=PATTERNS[4], temperature=1.0, seed=3)


def test_stream_raises_incomplete_at_the_end(gen):
    with pytest.raises(IncompleteGeneration):
        list(gen.stream(PROMPTS[0], regex=r"[0-9]{6}", max_new_tokens=2))


# --- RegexLogitsProcessor inside transformers' generate ----------------------------------


def test_processor_in_model_generate_matches_our_loop(gen, model, tok):
    pattern = PATTERNS[3]
    proc = RegexLogitsProcessor(pattern, tok)
    ids = tok(PROMPTS[0], return_tensors="pt")
    for _ in range(2):  # the same processor serves a second call
        out = model.generate(**ids, logits_processor=[proc], max_new_tokens=40, do_sample=False,
                             pad_token_id=tok.eos_token_id)
        new = out[0, ids["input_ids"].shape[1]:].tolist()
        assert new[-1] == tok.eos_token_id
        # transformers' loop takes a step per token: compare with ours without jump-forward.
        assert vocab_text(gen, new[:-1]) == gen.generate(PROMPTS[0], regex=pattern,
                                                         jump_forward=False)


def test_processor_with_sampling_and_batches(gen, model, tok):
    proc = gen.logits_processor(regex=PATTERNS[0])
    tok.padding_side = "left"
    try:
        batch = tok(PROMPTS, return_tensors="pt", padding=True)
    finally:
        tok.padding_side = "right"
    torch.manual_seed(0)
    out = model.generate(**batch, logits_processor=[proc], max_new_tokens=20, do_sample=True,
                         pad_token_id=tok.eos_token_id)
    for row in out[:, batch["input_ids"].shape[1]:].tolist():
        end = row.index(tok.eos_token_id)
        assert regex.fullmatch(PATTERNS[0], vocab_text(gen, row[:end]))


def test_pipeline_model_argument(model, tok):
    from transformers import pipeline

    pipe = pipeline("text-generation", model=model, tokenizer=tok)
    out = decoding.generate(PROMPTS[0], regex=PATTERNS[1], model=pipe)
    assert regex.fullmatch(PATTERNS[1], out)
    proc = RegexLogitsProcessor(PATTERNS[1], tok)
    text = pipe(PROMPTS[0], logits_processor=[proc], max_new_tokens=10, return_full_text=False,
                do_sample=False)[0]["generated_text"]
    assert regex.fullmatch(PATTERNS[1], text)


# --- bad input, before any model work ----------------------------------------------------------


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(prompt=[]), UsageError, "prompt list is empty"),
    (dict(max_new_tokens=0), UsageError, "max_new_tokens must be an integer >= 1"),
    (dict(max_new_tokens=True), UsageError, "max_new_tokens"),
    (dict(regex="a", schema={"type": "integer"}), UsageError, "not both"),
    (dict(regex="(a"), PatternError, "position"),
    (dict(regex=42), UsageError, "regex must be"),
    (dict(temperature=-1), UsageError, "temperature"),
    (dict(temperature=float("nan")), UsageError, "temperature"),
    (dict(top_p=0), UsageError, "top_p"),
    (dict(stop=[""]), UsageError, "stop strings must not be empty"),
    (dict(stop=[1]), UsageError, "stop must be"),
    (dict(seed="1"), UsageError, "seed"),
    (dict(prompt=[{"role": "user"}]), UsageError, "needs 'role' and 'content'"),
    (dict(prompt=["ok", 3]), UsageError, r"prompt\[1\]"),
    (dict(prompt=b"bytes"), UsageError, "prompt must be"),
    (dict(prompt=""), UsageError, "prompt is an empty string"),
    (dict(prompt=["ok", ""]), UsageError, r"prompt\[1\] is an empty string"),
    (dict(engine="fast"), UsageError, "unknown engine"),
    (dict(lenient="yes"), UsageError, "lenient must be True or False"),
    (dict(extra_properties=None), UsageError, "extra_properties must be True or False"),
    (dict(whitespace="("), UsageError, "whitespace regex"),
    (dict(max_depth=-1), UsageError, "max_depth"),
    (dict(jump_forward=1), UsageError, "jump_forward"),
    (dict(max_tokens=3), UsageError, "unknown option max_tokens; the options are: .*lenient"),
    (dict(options={"lenient": True}), UsageError, "options must be a"),
    (dict(schema=3.5), SchemaError, "a schema must be a JSON Schema"),
    (dict(schema=object()), SchemaError, "cannot derive a JSON Schema"),
    (dict(schema={"type": "array", "uniqueItems": True}), UnsupportedSchemaError,
     "lenient=True .* ignores such keywords"),
])
def test_bad_arguments_fail_before_the_model_loads(monkeypatch, kwargs, error, match):
    def no_model_work(*args, **kw):
        raise AssertionError("the model was resolved before the arguments were checked")

    monkeypatch.setattr(decoding.hf.generation, "resolve_model", no_model_work)
    call = dict(prompt="hi", model="/no/such/model")
    call.update(kwargs)
    with pytest.raises(error, match=match):
        decoding.generate(call.pop("prompt"), **call)


def test_stream_checks_its_arguments_when_called(monkeypatch):
    monkeypatch.setattr(decoding.hf.generation, "resolve_model",
                        lambda *a, **k: pytest.fail("model resolved first"))
    with pytest.raises(UsageError, match="max_new_tokens"):
        decoding.stream("hi", max_new_tokens=0)  # raised by the call, not by iteration
    with pytest.raises(UsageError, match="one prompt"):
        decoding.stream(["a", "b"])


def test_bad_schema_fails_before_the_model_loads(monkeypatch):
    from schema2re.errors import SchemaToRegexError

    monkeypatch.setattr(decoding.hf.generation, "resolve_model",
                        lambda *a, **k: pytest.fail("model resolved first"))
    with pytest.raises(SchemaToRegexError):
        decoding.generate("hi", schema='{"type": "integer"', model="/no/such/model")
    with pytest.raises(SchemaToRegexError):
        decoding.generate("hi", schema={"type": "no-such-type"}, model="/no/such/model")
    assert issubclass(SchemaToRegexError, decoding.TypedecodeError)


def test_unknown_model_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="no model folder"):
        decoding.generate("hi", regex="a", model=tmp_path / "missing")


def test_empty_prompt_on_a_loaded_generator(gen, model):
    with record_inputs(model) as calls, pytest.raises(UsageError, match="empty string"):
        gen.generate("", regex="a")
    assert calls == []


def test_stream_refuses_a_batch(gen):
    with pytest.raises(UsageError, match="one prompt"):
        gen.stream(["a", "b"])


def test_logits_processor_needs_a_constraint(gen):
    with pytest.raises(UsageError):
        gen.logits_processor()


# --- schemas ---------------------------------------------------------------------------------


def test_json_schema_output_is_validated(gen):
    from decoding.errors import OutputValidationError
    from decoding.hf.constraint import make_constraint

    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 5}},
              "required": ["n"], "additionalProperties": False}
    constraint = make_constraint(schema=schema)
    assert constraint.parse('{"n": 3}') == {"n": 3}
    with pytest.raises(OutputValidationError, match="maximum|greater"):
        constraint.parse('{"n": 9}')
    with pytest.raises(OutputValidationError, match="not JSON"):
        constraint.parse('{"n": ')
    assert make_constraint(schema=json.dumps(schema)).key == constraint.key


# --- every schema schema2re accepts, typed values --------------------------------------------


class Sentiment(enum.Enum):
    POSITIVE = "positive"
    NEGATIVE = "negative"


Digits = Annotated[list[Annotated[int, Field(ge=0, le=9)]], Field(max_length=3)]


class Tagged(BaseModel):
    tags: Annotated[set[Literal["x", "y"]], Field(max_length=4)]


def test_schema_kinds_are_decided_in_one_place():
    from pydantic import TypeAdapter

    from decoding.hf.constraint import make_constraint

    cases = [  # (schema, a text of its regex, the value parse gives)
        (Sentiment, '"negative"', Sentiment.NEGATIVE),
        (Literal["a", "b"], '"b"', "b"),
        (list[int], "[1, -2]", [1, -2]),
        (TypeAdapter(Digits), "[3]", [3]),
        (Tagged, '{"tags": ["x", "x"]}', Tagged(tags={"x"})),
        ({"enum": [1, 2]}, "2", 2),
        ('{"type": "boolean"}', "true", True),
    ]
    for schema, text, value in cases:
        constraint = make_constraint(schema=schema)
        assert constraint.pattern.expression().matches(text), (schema, text)
        parsed = constraint.parse(text)
        assert parsed == value and type(parsed) is type(value), (schema, parsed)
        assert make_constraint(schema=schema) is constraint  # memoized per process


def test_typed_values_from_the_generator(gen, model, tok):
    for seed in range(5):
        assert isinstance(gen.generate(PROMPTS[0], schema=Sentiment, temperature=1.0,
                                       seed=seed), Sentiment)
        value = gen.generate(PROMPTS[0], schema=Digits, temperature=1.0, seed=seed)
        assert isinstance(value, list) and all(isinstance(d, int) and 0 <= d <= 9 for d in value)
        assert gen.generate(PROMPTS[1], schema=Literal["a", "b"], temperature=1.0,
                            seed=seed) in ("a", "b")
    with Script(model, tok, '{"tags": ["x", "x", "y"]}'):
        assert gen.generate(PROMPTS[0], schema=Tagged, max_new_tokens=30,
                            jump_forward=False) == Tagged(tags={"x", "y"})


def test_stream_and_processor_take_any_schema(gen, model, tok):
    pieces = list(gen.stream(PROMPTS[0], schema=Sentiment, temperature=1.0, seed=1))
    assert Sentiment("".join(pieces).strip('"'))
    for proc in (gen.logits_processor(schema=Sentiment),
                 RegexLogitsProcessor(tokenizer=tok, schema=Sentiment)):
        ids = tok(PROMPTS[0], return_tensors="pt")
        out = model.generate(**ids, logits_processor=[proc], max_new_tokens=10, do_sample=False,
                             pad_token_id=tok.eos_token_id)
        new = out[0, ids["input_ids"].shape[1]:].tolist()
        assert isinstance(proc.constraint.parse(vocab_text(gen, new[:-1])), Sentiment)
    with pytest.raises(UsageError, match="needs a regex pattern or schema="):
        RegexLogitsProcessor(tokenizer=tok)


# --- translator options: lenient and the others ------------------------------------------------

UNIQUE_DIGITS = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9},
                 "maxItems": 3, "uniqueItems": True}


def test_lenient_reaches_every_entry_point(gen, model, tok):
    from decoding.errors import OutputValidationError
    from schema2re import IgnoredKeywordsWarning

    with pytest.raises(UnsupportedSchemaError, match="lenient=True"):
        gen.generate(PROMPTS[0], schema=UNIQUE_DIGITS)
    with pytest.warns(IgnoredKeywordsWarning, match="uniqueItems"):
        with Script(model, tok, "[1, 2]"):
            assert gen.generate(PROMPTS[0], schema=UNIQUE_DIGITS, lenient=True,
                                jump_forward=False) == [1, 2]
    with Script(model, tok, "[1, 1]"):  # allowed by the relaxed regex, refused by validation
        with pytest.raises(OutputValidationError, match="non-unique|unique"):
            gen.generate(PROMPTS[0], schema=UNIQUE_DIGITS, lenient=True, jump_forward=False)
    with Script(model, tok, "[4, 5]"):
        assert "".join(gen.stream(PROMPTS[0], schema=UNIQUE_DIGITS, lenient=True,
                                  jump_forward=False)) == "[4, 5]"
    proc = RegexLogitsProcessor(tokenizer=tok, schema=UNIQUE_DIGITS, lenient=True)
    assert proc.constraint.pattern.expression().matches("[1, 1]")


def test_options_object_and_keywords(gen):
    from dataclasses import FrozenInstanceError

    from decoding.hf.options import GenerationOptions

    options = GenerationOptions(max_new_tokens=2, stop="x", temperature=1, seed=3)
    assert options.stop == ("x",) and options.temperature == 1.0
    with pytest.raises(FrozenInstanceError):
        options.seed = 4
    c = gen.complete(PROMPTS[0], regex=r"[0-9]{2}[0-9]*", options=options)
    assert c.num_tokens == 2 and c.finish_reason == "length"
    c = gen.complete(PROMPTS[0], regex=r"[0-9]{2}[0-9]*", options=options, max_new_tokens=3)
    assert c.num_tokens == 3  # a keyword overrides the options object
    with pytest.raises(UsageError, match="max_new_tokens"):
        GenerationOptions(max_new_tokens=0)


def test_translation_options_are_part_of_every_cache_key(tmp_path, monkeypatch):
    """The same schema under other translator options: another regex, from the process memo
    and from the disk cache alike."""
    from decoding.hf import constraint
    from decoding.hf.options import ConstraintOptions

    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    variants = [ConstraintOptions(), ConstraintOptions(extra_properties=True),
                ConstraintOptions(whitespace="flexible"), ConstraintOptions(max_depth=1)]
    for _ in range(2):  # the second round reads the disk cache (the process memo is emptied)
        monkeypatch.setattr(constraint, "_MEMO", LRU(constraint._MEMO.maxsize))
        patterns = [constraint.make_constraint(schema=schema, options=o, cache_dir=tmp_path)
                    .pattern for o in variants]
        assert len({p.name for p in patterns[:3]}) == 3
        assert patterns[1].expression().matches('{"a": 1, "b": null}')
        assert patterns[2].expression().matches('{ "a" : 1 }')
        assert not patterns[0].expression().matches('{"a": 1, "b": null}')


# --- on the embedded default model (slow) ------------------------------------------------------


class Pizza(BaseModel):
    name: str
    toppings: set[str]


@pytest.mark.slow
def test_enum_and_literal_on_the_default_model(default_gen):
    review = "Review: '{}'\nSentiment:"
    assert default_gen.generate(review.format("I loved this film, the best of the year."),
                                schema=Sentiment, max_new_tokens=5) is Sentiment.POSITIVE
    assert default_gen.generate(review.format("Boring and far too long. I walked out."),
                                schema=Sentiment, max_new_tokens=5) is Sentiment.NEGATIVE
    assert default_gen.generate("Q: Is Paris in France? Answer yes or no.\nA:",
                                schema=Literal["yes", "no"], max_new_tokens=5) == "yes"


@pytest.mark.slow
def test_list_of_ints_and_a_set_field_on_the_default_model(default_gen):
    odd = "Q: The first two even numbers?\nA: [2,4]\nQ: The first three odd numbers?\nA:"
    assert default_gen.generate(odd, schema=list[int], max_new_tokens=12) == [1, 3, 5]
    pizza = default_gen.generate(
        'A margherita pizza as JSON: {"name": "Margherita", "toppings": ["tomato", '
        '"mozzarella", "basil"]}\nA pepperoni pizza as JSON:', schema=Pizza, max_new_tokens=30)
    assert isinstance(pizza, Pizza) and isinstance(pizza.toppings, set) and pizza.toppings
    assert all(isinstance(t, str) for t in pizza.toppings)


@pytest.mark.slow
def test_lenient_on_the_default_model(default_gen):
    from schema2re import IgnoredKeywordsWarning

    schema = {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3,
              "uniqueItems": True}
    prompt = ('Q: Two fruits as a JSON list.\nA: ["apple", "pear"]\n'
              'Q: Three colors as a JSON list.\nA:')
    with pytest.raises(UnsupportedSchemaError, match="lenient=True"):
        default_gen.generate(prompt, schema=schema)
    with pytest.warns(IgnoredKeywordsWarning):
        colors = default_gen.generate(prompt, schema=schema, lenient=True, max_new_tokens=30)
    assert isinstance(colors, list) and 1 <= len(colors) == len(set(colors)) <= 3
