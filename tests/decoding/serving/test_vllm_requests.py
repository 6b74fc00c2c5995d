"""vLLM request specs and per-request arguments become typedecode patterns, or typed errors."""

from __future__ import annotations

import json

import pytest
import regex

from decoding.errors import PatternError, TypedecodeError
from decoding.vllm.requests import UnsupportedRequest, constraint_of, pattern_for

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def test_regex_and_choice_patterns_match_exactly():
    assert pattern_for("regex", "[a-z]+") == "[a-z]+"
    choice = pattern_for("choice", json.dumps(["a.b", "c d", "(x)"]))
    for text in ["a.b", "c d", "(x)"]:
        assert regex.fullmatch(choice, text)
    assert not regex.fullmatch(choice, "aXb")


def test_json_schema_is_translated():
    assert pattern_for("json", json.dumps(SCHEMA)) is not None
    with pytest.raises(UnsupportedRequest, match="JSON text"):
        pattern_for("json", "{not json")


@pytest.mark.parametrize("kind, spec, error", [
    ("grammar", "root ::= x", UnsupportedRequest),
    ("choice", "[]", UnsupportedRequest),
    ("choice", "[1, 2]", UnsupportedRequest),
    ("regex", "(", PatternError),
])
def test_bad_requests_raise_typed_errors(kind, spec, error):
    with pytest.raises(error) as info:
        pattern_for(kind, spec)
    assert isinstance(info.value, TypedecodeError)


def test_extra_args_nested_and_flat():
    assert constraint_of(None) is None and constraint_of({"other": 1}) is None
    assert constraint_of({"typedecode": {"regex": "a+"}}) == ("regex", "a+")
    assert constraint_of({"typedecode": {"json_schema": SCHEMA}}) == ("json", json.dumps(SCHEMA))
    assert constraint_of({"typedecode_regex": "b+"}) == ("regex", "b+")
    assert constraint_of({"typedecode_json_schema": "{}"}) == ("json", "{}")


@pytest.mark.parametrize("args", [
    {"typedecode": {"grammar": "x"}},
    {"typedecode": "a+"},
    {"typedecode": {"regex": "a"}, "typedecode_regex": "b"},
    {"typedecode_regex": 3},
])
def test_bad_extra_args(args):
    with pytest.raises(UnsupportedRequest):
        constraint_of(args)


def test_register_without_vllm_is_a_usage_error():
    import importlib.util

    from decoding.errors import UsageError
    from decoding.vllm import register

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here: register() would register")
    with pytest.raises(UsageError, match="needs vLLM"):
        register()
