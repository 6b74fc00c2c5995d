"""`decoding.langchain.ChatTypedecode` through LangChain's public entry points.

Fast tests run a tiny random-weight Llama with the real SmolLM2 tokenizer and chat template
(`Script` makes it say a given text); the slow test runs the README's agent loop on the
embedded default model.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field

pytest.importorskip("langchain_core")

from langchain_core.messages import (  # noqa: E402
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool  # noqa: E402

from decoding import ToolFormat, UsageError  # noqa: E402
from decoding.langchain import ChatTypedecode, _chat_messages  # noqa: E402
from tests.tiny_models import Script  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class City(BaseModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z]{1,8}$")]
    population: Annotated[int, Field(ge=0, le=99)]


TINY_SEED = 5  # the tiny model of the `model` fixture (tests/conftest.py)


@pytest.fixture(scope="module")
def chat(model, tok):
    return ChatTypedecode(model=(model, tok), max_new_tokens=40)


CALL = '{"name": "add", "arguments": {"a": 40, "b": 2}}'


def test_bind_tools_gives_well_formed_tool_calls(chat, model, tok):
    with Script(model, tok, CALL):
        ai = chat.bind_tools([add], tool_choice="any").invoke("What is 40 + 2?")
    assert ai.content == "" and len(ai.tool_calls) == 1
    call = ai.tool_calls[0]
    assert (call["name"], call["args"], call["type"]) == ("add", {"a": 40, "b": 2}, "tool_call")
    assert call["id"].startswith("call_")
    assert add.invoke(call).content == "42"  # LangChain runs the tool from the call


def test_random_weights_always_call_with_valid_arguments(chat):
    for seed in range(3):
        ai = chat.bind_tools([add, City], tool_choice="required").invoke("x", temperature=1.0,
                                                                         seed=seed)
        (call,) = ai.tool_calls
        schema = add.tool_call_schema if call["name"] == "add" else City
        schema.model_validate(call["args"])


def test_tool_choice_forms(chat, model, tok):
    for choice in ("add", {"type": "function", "function": {"name": "add"}}, True):
        with Script(model, tok, CALL):
            assert chat.bind_tools([add, City], tool_choice=choice).invoke("x").tool_calls
    with Script(model, tok, "Hi"):
        assert chat.bind_tools([add], tool_choice="none").invoke("x", max_new_tokens=1) \
            .content == "Hi"
        assert chat.bind_tools([add]).invoke("x", max_new_tokens=1).content == "Hi"  # auto
    for bad in ("sub", "sometimes", {"type": "function"}):
        with pytest.raises(UsageError, match="tool_choice"):
            chat.bind_tools([add], tool_choice=bad)
    with pytest.raises(UsageError):
        chat.bind_tools([{"type": "function", "function": {"name": "f"}}])


def test_with_structured_output_validates(chat, model, tok):
    text = '{"name": "Oslo", "population": 7}'
    with Script(model, tok, text):
        assert chat.with_structured_output(City).invoke("x") == City(name="Oslo", population=7)
        raw = chat.with_structured_output(City, include_raw=True).invoke("x")
    assert raw["parsed"] == City(name="Oslo", population=7) and raw["raw"].content == text
    for seed in range(3):  # random weights: the output still validates
        assert isinstance(chat.with_structured_output(City).invoke("x", temperature=1.0,
                                                                    seed=seed), City)
    with pytest.raises(UsageError):
        chat.with_structured_output(City, method="json_mode")


def test_stream_yields_the_invoke_text(chat):
    options = {"temperature": 1.0, "seed": 3, "max_new_tokens": 12}
    chunks = list(chat.stream("x", **options))
    assert len(chunks) > 1
    assert "".join(c.content for c in chunks) == chat.invoke("x", **options).content


def test_stream_with_tools_gives_the_call_in_one_chunk(chat, model, tok):
    with Script(model, tok, CALL):
        chunks = list(chat.bind_tools([add], tool_choice="any").stream("x"))
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert [(c["name"], c["args"]) for c in total.tool_calls] == [("add", {"a": 40, "b": 2})]


def test_history_renders_calls_and_results():
    history = [SystemMessage("Be brief."), HumanMessage("40 + 2?"),
               AIMessage("", tool_calls=[{"name": "add", "args": {"a": 40, "b": 2}, "id": "c1"}]),
               ToolMessage("42", tool_call_id="c1"), AIMessage("42.")]
    fmt = ToolFormat("<tool_call>", "</tool_call>")
    assert _chat_messages(history, fmt) == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "40 + 2?"},
        {"role": "assistant",
         "content": '<tool_call>{"name": "add", "arguments": {"a": 40, "b": 2}}</tool_call>'},
        {"role": "tool", "content": "42"}, {"role": "assistant", "content": "42."}]


def test_bad_fields_fail_at_construction(model, tok):
    with pytest.raises(UsageError):
        ChatTypedecode(model=(model, tok), temperature=-1.0)
    with pytest.raises(UsageError, match="ToolFormat"):
        ChatTypedecode(model=(model, tok), tool_format="<tool_call>")
    with pytest.raises(UsageError, match="unknown call option"):
        ChatTypedecode(model=(model, tok)).invoke("x", beams=2)


@pytest.mark.slow
def test_agent_loop_on_the_default_model(default_gen):
    # The README's example (there `ChatTypedecode()` loads the same default model): the model
    # calls the tool, gets its result, answers.
    chat = ChatTypedecode(model=(default_gen.model, default_gen.tokenizer), max_new_tokens=40)
    messages = [HumanMessage("What is 12 + 30?")]
    ai = chat.bind_tools([add], tool_choice="any").invoke(messages)
    messages.append(ai)
    for call in ai.tool_calls:
        add.tool_call_schema.model_validate(call["args"])
        messages.append(add.invoke(call))
    final = chat.invoke(messages)
    assert len(ai.tool_calls) == 1 and isinstance(messages[2], ToolMessage)
    assert messages[2].content == str(sum(ai.tool_calls[0]["args"].values()))
    assert isinstance(final, AIMessage) and final.content and not final.tool_calls
