"""`decoding.langchain.RELLM` through LangChain's public entry points.

Fast tests run a tiny random-weight Llama (tests/tiny_models.py) with the real SmolLM2 tokenizer,
wrapped in a transformers text-generation pipeline as a LangChain user would pass it; `Script`
makes the model say a given text where a test needs one. The one slow test reproduces the RELLM
notebook on the embedded default model.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from typing import Annotated, Literal

import pytest
import regex
import torch
from pydantic import BaseModel, Field

pytest.importorskip("langchain_core")

from langchain_core.callbacks import BaseCallbackHandler  # noqa: E402
from langchain_core.outputs import LLMResult  # noqa: E402
from langchain_core.prompts import PromptTemplate  # noqa: E402

from decoding import PatternError, UsageError  # noqa: E402
from decoding.errors import ModelLoadError  # noqa: E402
from decoding.examples import RELLM_PROMPT  # noqa: E402
from decoding.langchain import RELLM  # noqa: E402
from tests.tiny_models import Script, tiny_llama  # noqa: E402

NUMBER = r"-?(0|[1-9][0-9]{0,3})(\.[0-9]{1,2})?"
PROMPTS = ["The answer is", "Q: give me a value.\nA:", "x"]


class Person(BaseModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z]{1,8}$")]
    age: Annotated[int, Field(ge=0, le=99)]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tok(smollm2_tokenizer):
    return smollm2_tokenizer


@pytest.fixture(scope="module")
def model(tok):
    return tiny_llama(tok, seed=3, dtype=torch.float64)


@pytest.fixture(scope="module")
def pipe(model, tok):
    from transformers import pipeline

    return pipeline("text-generation", model=model, tokenizer=tok)


@pytest.fixture(scope="module")
def llm(pipe):
    return RELLM(pipeline=pipe, regex=NUMBER, max_new_tokens=24)


class TokenRecorder(BaseCallbackHandler):
    def __init__(self):
        self.tokens: list[str] = []
        self.ended = 0

    def on_llm_new_token(self, token, **kwargs):
        self.tokens.append(token)

    def on_llm_end(self, response, **kwargs):
        self.ended += 1


# --- the constraint on every entry point ------------------------------------------------------


def test_invoke_applies_the_regex(llm, pipe):
    out = llm.invoke(PROMPTS[0])
    assert regex.fullmatch(NUMBER, out)
    plain = RELLM(pipeline=pipe, max_new_tokens=8).invoke(PROMPTS[0])
    assert not regex.fullmatch(NUMBER, plain)  # the random model says something else unguided


def test_batch_is_constrained_and_equals_one_by_one(llm):
    outs = llm.batch(PROMPTS)
    assert len(outs) == 3 and all(regex.fullmatch(NUMBER, o) for o in outs)
    assert outs == [llm.invoke(p) for p in PROMPTS]
    assert llm.batch(PROMPTS, config={"max_concurrency": 2}) == outs


def test_generate_returns_an_llm_result_with_finish_reasons(llm):
    result = llm.generate(PROMPTS[:2])
    assert isinstance(result, LLMResult) and len(result.generations) == 2
    for [generation] in result.generations:
        assert regex.fullmatch(NUMBER, generation.text)
        info = generation.generation_info
        assert info["finish_reason"] in ("pattern", "eos") and info["num_tokens"] >= 1


def test_stream_yields_pieces_and_calls_back_each_token(llm, model, tok):
    text = "1234.56"
    recorder = TokenRecorder()
    with Script(model, tok, text):
        pieces = list(llm.stream(PROMPTS[0], config={"callbacks": [recorder]}))
    assert "".join(pieces) == text and len(pieces) > 1
    assert recorder.tokens == pieces and recorder.ended == 1


def test_stream_sampled_matches_invoke(llm):
    options = {"temperature": 1.0, "seed": 5}
    pieces = list(llm.stream(PROMPTS[1], **options))
    assert "".join(pieces) == llm.invoke(PROMPTS[1], **options)
    assert regex.fullmatch(NUMBER, "".join(pieces))


async def _async_calls(llm):
    return await llm.ainvoke(PROMPTS[0]), await llm.abatch(PROMPTS[:2]), \
        [piece async for piece in llm.astream(PROMPTS[0])]


def test_async_entry_points_apply_the_regex(llm):
    import asyncio

    one, two, pieces = asyncio.run(_async_calls(llm))
    assert one == llm.invoke(PROMPTS[0]) == "".join(pieces)
    assert two == llm.batch(PROMPTS[:2])


def test_lcel_chain_with_a_prompt_template(llm):
    chain = PromptTemplate.from_template("Q: how many {thing}?\nA:") | llm
    out = chain.invoke({"thing": "apples"})
    assert regex.fullmatch(NUMBER, out)
    assert out == llm.invoke("Q: how many apples?\nA:")


# --- stop strings -----------------------------------------------------------------------------


def test_stop_cuts_plain_output(pipe, model, tok):
    plain = RELLM(pipeline=pipe, max_new_tokens=20)
    with Script(model, tok, "Paris.\nHuman: next"):
        assert plain.invoke("Q:", stop=["Human:"]) == "Paris.\n"
    with Script(model, tok, "Paris.\nHuman: next"):
        pieces = list(plain.stream("Q:", stop=["Human:"]))
    assert "".join(pieces) == "Paris.\n"


def test_stop_under_the_pattern_rellm_style(pipe, model, tok):
    llm = RELLM(pipeline=pipe, regex=r'\{"a": "[^"]*"\}\nHuman:', max_new_tokens=40)
    with Script(model, tok, '{"a": "Human: hi"}\nHuman:'):
        result = llm.generate(["Q:"], stop=["Human:"])
    [[generation]] = result.generations
    # Inside the JSON string the pattern does not accept, so that "Human:" is ordinary text.
    assert generation.text == '{"a": "Human: hi"}\n'
    assert generation.generation_info["finish_reason"] == "stop"
    with Script(model, tok, '{"a": "Human: hi"}\nHuman:'):  # a random model may not end the string
        assert llm.bind(stop=["Human:"]).invoke("Q:").endswith("}\n")


# --- typed output -----------------------------------------------------------------------------


def test_as_typed_returns_the_pydantic_object_in_a_chain(pipe, model, tok):
    llm = RELLM(pipeline=pipe, schema=Person, max_new_tokens=40)
    chain = PromptTemplate.from_template("Describe {who} as JSON:") | llm.as_typed()
    with Script(model, tok, '{"name": "Ann", "age": 7}'):
        person = chain.invoke({"who": "Ann"})
    assert person == Person(name="Ann", age=7)
    unguided = chain.invoke({"who": "Bob"})  # random weights: still a valid Person
    assert isinstance(unguided, Person)


def test_with_structured_output_json_schema_and_batch(llm):
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 99}},
              "required": ["n"], "additionalProperties": False}
    typed = llm.with_structured_output(schema)
    values = typed.batch(PROMPTS[:2])
    assert all(isinstance(v, dict) and set(v) == {"n"} and v["n"] <= 99 for v in values)
    assert llm.regex == NUMBER and llm.schema_ is None  # the original is unchanged
    assert typed.first.generator is llm.generator  # the copy shares the loaded model


def test_as_typed_needs_a_schema(llm):
    with pytest.raises(UsageError, match="needs a schema"):
        llm.as_typed()
    with pytest.raises(UsageError, match="include_raw"):
        llm.with_structured_output(Person, include_raw=True)


# --- arguments and loading ----------------------------------------------------------------------


def test_bad_arguments_fail_at_construction_or_call(pipe, llm):
    with pytest.raises(PatternError):
        RELLM(pipeline=pipe, regex="(unclosed")
    with pytest.raises(UsageError, match="either schema= or regex="):
        RELLM(pipeline=pipe, regex="a", schema=Person)
    with pytest.raises(UsageError, match="unknown call option"):
        llm.invoke("x", max_tokens=3)
    with pytest.raises(UsageError, match="max_new_tokens"):
        llm.invoke("x", max_new_tokens=0)
    with pytest.raises(ModelLoadError):
        RELLM(pipeline=42).invoke("x")


def test_any_schema_and_the_translator_options(pipe, model, tok):
    import enum

    from schema2re.errors import IgnoredKeywordsWarning, UnsupportedSchemaError

    class Mood(enum.Enum):
        HAPPY = "happy"
        SAD = "sad"

    assert isinstance(RELLM(pipeline=pipe, schema=Mood).as_typed().invoke("x"), Mood)
    flags = RELLM(pipeline=pipe).as_typed(list[bool]).invoke("x", max_new_tokens=40)
    assert isinstance(flags, list) and all(isinstance(f, bool) for f in flags)
    unique = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    with pytest.raises(UnsupportedSchemaError, match="lenient=True"):
        RELLM(pipeline=pipe, schema=unique)
    with pytest.warns(IgnoredKeywordsWarning, match="uniqueItems"):
        llm = RELLM(pipeline=pipe, schema=unique, lenient=True, jump_forward=False,
                    whitespace="flexible")
    with Script(model, tok, "[ 1 , 2 ]"):
        assert llm.as_typed().invoke("x") == [1, 2]


def test_options_are_checked_at_construction_and_share_the_defaults(pipe):
    import dataclasses

    from decoding.hf.options import GenerationOptions

    for bad in ({"temperature": -1.0}, {"engine": "fast"}, {"max_depth": -1},
                {"whitespace": "("}):
        with pytest.raises(UsageError):
            RELLM(pipeline=pipe, **bad)
    llm = RELLM(pipeline=pipe)
    for field in dataclasses.fields(GenerationOptions):
        if field.name not in ("stop", "max_new_tokens"):
            assert getattr(llm, field.name) == field.default, field.name


def test_call_options_override_the_fields(pipe):
    llm = RELLM(pipeline=pipe, regex=r"[a-z]{1,30}", max_new_tokens=30)
    result = llm.generate(["x"], max_new_tokens=3, temperature=1.0, seed=1)
    assert result.generations[0][0].generation_info["num_tokens"] <= 3


def test_the_model_is_loaded_once(llm):
    first = llm.generator
    llm.invoke("x")
    assert llm.generator is first


def test_import_without_langchain_core_says_how_to_install(monkeypatch):
    for name in list(sys.modules):
        if name == "langchain_core" or name.startswith("langchain_core."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    monkeypatch.delitem(sys.modules, "decoding.langchain")
    with pytest.raises(ImportError, match=r'pip install "typedecode\[langchain\]"'):
        importlib.import_module("decoding.langchain")


def test_the_core_package_never_imports_langchain():
    code = ("import sys, decoding, decoding.hf.generation, decoding.cli, schema2re\n"
            "print(sorted(m for m in sys.modules if m.startswith('langchain')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# --- the RELLM notebook on the default model ----------------------------------------------------

NOTEBOOK_REGEX = (r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")'
                  r'\s*\}\nHuman:')


class AgentAction(BaseModel):
    action: Literal["Final Answer"]
    action_input: str


@pytest.mark.slow
def test_rellm_notebook_on_the_default_model():
    from transformers import pipeline

    from decoding.hf.models import load_embedded_model

    try:
        loaded = load_embedded_model()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    hf_pipeline = pipeline("text-generation", model=loaded.model, tokenizer=loaded.tokenizer)
    # Unconstrained, as with LangChain's HuggingFacePipeline (greedy, continuation only).
    plain = hf_pipeline(RELLM_PROMPT, max_new_tokens=40, do_sample=False,
                        return_full_text=False)[0]["generated_text"]
    assert isinstance(plain, str) and plain
    print("unconstrained:", repr(plain))

    llm = RELLM(pipeline=hf_pipeline, regex=NOTEBOOK_REGEX, max_new_tokens=60)
    out = llm.invoke(RELLM_PROMPT, stop=["Human:"])
    print("RELLM:", repr(out))
    assert out.endswith("}\n") and "Human:" not in out
    answer = json.loads(out)
    assert answer["action"] == "Final Answer" and answer["action_input"]

    action = llm.as_typed(AgentAction).invoke(RELLM_PROMPT)
    print("typed:", repr(action))
    assert isinstance(action, AgentAction) and action.action == "Final Answer"
