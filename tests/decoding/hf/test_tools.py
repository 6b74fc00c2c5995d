"""Tool calls: tools from callables and Pydantic models, the call constraint, `generate(tools=)`.

Fast: the schemas and the constraint are checked without a model (`Expr.matches`), and the
generation tests run a tiny random-weight Llama with the real SmolLM2 tokenizer (`Script` makes
it say a given text). The end-to-end tests on the embedded model are marked slow.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from decoding import OutputValidationError, ToolCall, ToolFormat, UsageError
from decoding.hf.options import ConstraintOptions
from decoding.hf.tool_calls import tool_request
from decoding.hf.tools import tool_of, tools_of
from tests.tiny_models import Script


def add(a: int, b: int = 1) -> int:
    """Add two integers.

    The sum, exactly.

    Args:
        a: the first number,
            on two lines
        b (int): the second number

    Returns:
        a + b
    """
    return a + b


def scale(x: float, factor: Annotated[float, Field(ge=0, le=10)]) -> float:
    """Multiply a number by a factor.

    Parameters
    ----------
    x : float
        The number.
    factor : float
        Between 0 and 10.

    Returns
    -------
    float
    """
    return x * factor


def shout(text: str) -> str:
    """Upper-case a text.

    :param text: what to shout
    :returns: the text in capitals
    """
    return text.upper()


def now() -> str:
    """The current time."""
    return "12:00"


class Weather(BaseModel):
    """Get the weather for a city."""

    city: Annotated[str, Field(max_length=20)]


def expression_of(tools, choice="required", fmt=None, plain=None):
    request = tool_request(tools, choice, fmt)
    constraint = request.constraint(plain, ConstraintOptions(), None)
    return constraint, constraint.pattern.expression()


# --- tools from callables and models ----------------------------------------------------------


def test_a_callable_gives_name_summary_and_described_arguments():
    tool = tool_of(add)
    assert (tool.name, tool.description) == ("add", "Add two integers.")
    schema = tool.arguments.model_json_schema()
    assert schema["required"] == ["a"]
    assert schema["properties"]["a"]["type"] == "integer"
    assert schema["properties"]["a"]["description"] == "the first number, on two lines"
    assert schema["properties"]["b"]["description"] == "the second number"
    assert schema["properties"]["b"]["default"] == 1
    assert tool_of(add) is tool  # memoized per callable


def test_numpy_and_rest_docstrings_and_annotated_constraints():
    schema = tool_of(scale).arguments.model_json_schema()["properties"]
    assert schema["x"]["description"] == "The number."
    assert schema["factor"]["description"] == "Between 0 and 10."
    assert (schema["factor"]["minimum"], schema["factor"]["maximum"]) == (0, 10)
    assert tool_of(shout).arguments.model_json_schema()["properties"]["text"]["description"] \
        == "what to shout"
    assert tool_of(shout).description == "Upper-case a text."


def test_a_pydantic_model_is_a_tool_and_a_tool_without_parameters_works():
    tool = tool_of(Weather)
    assert (tool.name, tool.description, tool.arguments) == \
        ("Weather", "Get the weather for a city.", Weather)
    constraint, expression = expression_of([now, Weather])
    assert expression.matches('{"name": "now", "arguments": {}}')
    call = constraint.parse('{"name": "now", "arguments": {}}')
    assert call.call() == "12:00"
    call = constraint.parse('{"name": "Weather", "arguments": {"city": "Oslo"}}')
    assert call.arguments == Weather(city="Oslo") and call.call() == Weather(city="Oslo")


def test_bad_tools_are_usage_errors():
    def variadic(*numbers: int) -> int:
        return sum(numbers)

    def undefined(x: "Nowhere") -> None:  # noqa: F821
        """Broken hint."""

    for bad in ([], "add", [add, add], [variadic], [lambda x: x], [undefined], [42], [int]):
        with pytest.raises(UsageError):
            tools_of(bad)
    for choice in ("sometimes", "scale", 3):
        with pytest.raises(UsageError, match="tool_choice"):
            tool_request([add], choice)
    with pytest.raises(UsageError, match="need tools="):
        tool_request(None, "auto")
    with pytest.raises(UsageError, match="ToolFormat"):
        tool_request([add], None, "<tool_call>")


# --- the constraint ---------------------------------------------------------------------------


def test_the_name_selects_the_arguments_schema():
    constraint, expression = expression_of([add, Weather])
    assert expression.matches('{"name": "add", "arguments": {"a": 1, "b": 2}}')
    assert expression.matches('{"name": "Weather", "arguments": {"city": "Oslo"}}')
    assert not expression.matches('{"name": "add", "arguments": {"city": "Oslo"}}')
    assert not expression.matches('{"name": "Weather", "arguments": {"a": 1}}')
    assert not expression.matches('{"name": "sub", "arguments": {"a": 1}}')
    assert not expression.matches("Hello")
    call = constraint.parse('{"name": "add", "arguments": {"a": 4, "b": 5}}')
    assert isinstance(call, ToolCall) and call.name == "add" and call.call() == 9
    with pytest.raises(OutputValidationError):
        constraint.parse("Hello")


def test_a_named_choice_allows_that_tool_only():
    _, expression = expression_of([add, Weather], "Weather")
    assert expression.matches('{"name": "Weather", "arguments": {"city": "Oslo"}}')
    assert not expression.matches('{"name": "add", "arguments": {"a": 1}}')


def test_auto_adds_free_text_that_does_not_open_a_call():
    constraint, expression = expression_of([add], "auto")
    assert expression.matches("The answer is 4.")
    assert expression.matches('{"name": "add", "arguments": {"a": 1}}')
    assert not expression.matches('{"a": 1}')
    assert not expression.matches("")
    assert constraint.parse("The answer is 4.") == "The answer is 4."


def test_auto_with_a_schema_gives_the_schema_value_or_a_call():
    from decoding.hf.constraint import make_constraint

    plain = make_constraint(schema=Weather)
    constraint, expression = expression_of([add], "auto", plain=plain)
    assert expression.matches('{"city": "Oslo"}')
    assert not expression.matches("Oslo")
    assert constraint.parse('{"city": "Oslo"}') == Weather(city="Oslo")
    assert constraint.parse('{"name": "add", "arguments": {"a": 1}}').call() == 2
    with pytest.raises(UsageError, match="auto"):
        expression_of([add], "required", plain=plain)


def test_markers_wrap_the_call():
    fmt = ToolFormat("<tool_call>\n", "\n</tool_call>")
    constraint, expression = expression_of([add], "auto", fmt)
    text = '<tool_call>\n{"name": "add", "arguments": {"a": 2}}\n</tool_call>'
    assert expression.matches(text)
    _, required = expression_of([add], "required", fmt)
    assert required.matches(text)
    assert not required.matches('{"name": "add", "arguments": {"a": 2}}')
    assert expression.matches('{"a": 2}')  # plain text now: only the prefix opens a call
    assert not expression.matches("<tool_call>\nhi")
    assert constraint.parse(text).arguments.a == 2


def test_the_arguments_are_validated_by_the_tools_model():
    constraint, _ = expression_of([scale])
    with pytest.raises(OutputValidationError):  # the text is outside the pattern: 11 > 10
        constraint.parse('{"name": "scale", "arguments": {"x": 1, "factor": 11}}')
    with pytest.raises(ValidationError):
        tool_of(scale).arguments(x=1, factor=11)


# --- generate(tools=) on a tiny model ---------------------------------------------------------

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_generate_returns_a_validated_tool_call(gen, model, tok):
    text = '{"name": "add", "arguments": {"a": 40, "b": 2}}'
    with Script(model, tok, text):
        completion = gen.complete([{"role": "user", "content": "40 + 2?"}], tools=[add, Weather],
                                  max_new_tokens=40)
    assert completion.text == text and completion.value.call() == 42


def test_random_weights_always_give_a_call_that_validates(gen):
    for seed in range(4):
        call = gen.generate("x", tools=[add, Weather, now], temperature=1.0, seed=seed,
                            max_new_tokens=80)
        assert isinstance(call, ToolCall) and isinstance(call.arguments, call.tool.arguments)
        call.tool.arguments.model_validate(call.arguments.model_dump())
        call.call()


def test_tools_apply_to_every_row_of_a_batch(gen):
    calls = gen.generate(["x", "y", "z"], tools=[add, Weather], temperature=1.0, seed=3,
                         max_new_tokens=80)
    assert len(calls) == 3 and all(isinstance(c, ToolCall) for c in calls)
    for call in calls:
        call.tool.arguments.model_validate(call.arguments.model_dump())


def test_tools_behind_a_reasoning_section(gen):
    out = gen.complete("x", tools=[add], reasoning=("<think>", "</think>"),
                       max_reasoning_tokens=4, temperature=1.0, seed=1, max_new_tokens=80)
    assert isinstance(out.value, ToolCall) and out.value.name == "add"
    assert out.reasoning is not None and "</think>" not in out.reasoning
    out.value.call()


def test_stream_yields_the_call_text(gen, model, tok):
    text = '{"name": "Weather", "arguments": {"city": "Oslo"}}'
    with Script(model, tok, text):
        pieces = list(gen.stream("x", tools=[add, Weather], max_new_tokens=40))
    assert len(pieces) > 1 and "".join(pieces) == text


def test_auto_returns_the_plain_answer(gen, model, tok):
    size = len(tok.encode("Hello there", add_special_tokens=False))
    with Script(model, tok, "Hello there"):
        assert gen.generate("Hi", tools=[add], tool_choice="auto", max_new_tokens=size) \
            == "Hello there"


def test_the_prompt_describes_the_tools(gen, tok):
    request = tool_request([add, Weather])
    messages = [{"role": "user", "content": "hi"}]
    text = tok.decode(gen._encode(messages, None, request))
    assert "You can call these tools:" in text and '"name": "Weather"' in text
    assert "hi" in text
    assert tok.decode(gen._encode("hi", None, request)).startswith("You can call these tools:")


def test_a_template_that_takes_tools_gets_them(gen, tok, monkeypatch):
    template = ("{% for t in tools %}[{{ t.function.name }}]{% endfor %}"
                "{% for m in messages %}{{ m.content }}{% endfor %}")
    monkeypatch.setattr(tok, "chat_template", template)
    request = tool_request([add, Weather])
    text = tok.decode(gen._encode([{"role": "user", "content": "hi"}], None, request))
    assert text == "[add][Weather]hi"
    assert tok.decode(gen._encode("hi", None, request)).startswith("You can call these tools:")


def test_tool_arguments_are_checked_before_model_work(gen):
    with pytest.raises(UsageError):
        gen.generate("x", tools=[add], tool_choice="never")
    with pytest.raises(UsageError, match="automaton"):
        gen.generate("x", tools=[add], engine="partial")
    with pytest.raises(UsageError, match="unknown option"):
        gen.generate("x", tools=[add], tool_choise="auto")


# --- the embedded model -----------------------------------------------------------------------


def multiply(x: float, y: float) -> float:
    """Multiply two numbers."""
    return x * y


@pytest.mark.slow
def test_two_tools_on_the_default_model(default_gen):
    call = default_gen.generate([{"role": "user", "content": "What is 12 plus 30?"}],
                                tools=[add, multiply], max_new_tokens=40)
    assert isinstance(call, ToolCall) and call.name in ("add", "multiply")
    assert isinstance(call.arguments, tool_of(add if call.name == "add" else multiply).arguments)
    assert call.call() == (call.arguments.a + call.arguments.b if call.name == "add"
                           else call.arguments.x * call.arguments.y)


@pytest.mark.slow
def test_auto_on_the_default_model_gives_either_kind(default_gen):
    # SmolLM2-135M answers chat questions in text (measured: 6 of 6 under "auto"); a
    # completion-style prompt ending in "Call:" makes it open a call.
    answers = default_gen.generate(
        ["What's the weather in Paris?\nCall:\n", [{"role": "user", "content": "Say hello."}]],
        tools=[add, Weather], tool_choice="auto", max_new_tokens=24)
    assert isinstance(answers[0], ToolCall) and answers[0].name == "Weather"
    assert isinstance(answers[0].arguments, Weather)
    assert isinstance(answers[1], str) and answers[1] and not answers[1].startswith("{")
