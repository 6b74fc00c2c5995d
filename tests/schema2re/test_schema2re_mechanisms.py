"""The translator mechanisms behind JSON-Schema-Test-Suite coverage, each checked against `jsonschema`.

Each case is a schema and hand-written instances (JSON texts): every instance the expression
matches must be valid under `jsonschema` (soundness), and the ones listed as produced must be
matched (the mechanism works). Mechanisms: `maxContains` with `minContains` (the other items
fail `contains`), complements of `enum`/`const` within their own type (`not`, `if`, `oneOf`),
`$dynamicRef` resolved in the dynamic scope of the path that reaches it, and the formats added
as regular subsets where `jsonschema` has a checker for them (the others are checked in
test_schema2re_strings.py). About 10 s.
"""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from schema2re import to_expression
from schema2re.errors import UnsupportedSchemaError

# (schema, instances the expression must match, instances it may or may not match)
CASES = {
    "maxContains": (
        {"type": "array", "contains": {"const": 1}, "maxContains": 2},
        ["[1]", "[1,1]", "[2,1,3]", '[1,"a",1]'],
        ["[]", "[2]", "[1,1,1]", "[1,2,1,1]", "[1.0,1,1]", "[1,1.0,2,1]"],
    ),
    "minContains and maxContains": (
        {"type": "array", "items": {"type": "integer"}, "contains": {"minimum": 5},
         "minContains": 2, "maxContains": 3},
        ["[5,6]", "[1,5,2,6]", "[5,6,7]"],
        ["[5]", "[5,6,7,8]", "[1,2]", "[]", "[5,5,5,5,1]"],
    ),
    "maxContains 0": (
        {"type": "array", "contains": {"type": "string"}, "minContains": 0, "maxContains": 0},
        ["[]", "[1]", "[1,true,null]"],
        ['["a"]', '[1,"a"]'],
    ),
    "maxContains with maxItems": (
        {"type": "array", "contains": {"enum": [1, 2]}, "maxContains": 1, "maxItems": 3},
        ["[1]", "[2,3]", "[1,0,5]"],
        ["[1,2]", "[3]", "[1,3,4,5]", "[2,2]"],
    ),
    "maxContains below minContains": (
        {"type": "array", "contains": {"const": 1}, "minContains": 3, "maxContains": 2},
        None, ["[1,1]", "[1,1,1]"],
    ),
    "not const number": (
        {"type": "number", "not": {"const": 1}},
        ["0", "2", "1.5", "-1", "0.5"],
        ["1", "1.0", "1e0"],
    ),
    "not enum of strings": (
        {"type": "string", "not": {"enum": ["ab", "cd"]}},
        ['""', '"a"', '"abc"'],
        ['"ab"', '"cd"', '"xy"'],
    ),
    "if const then false": (
        {"if": {"const": 1}, "then": False},
        ["0", "2", '"x"', "true", "null"],
        ["1", "1.0"],
    ),
    "oneOf overlapping enums": (
        {"oneOf": [{"enum": [1, 2, 3]}, {"type": "integer", "minimum": 2}]},
        ["1", "4", "10"],
        ["2", "3", "2.0", "0"],
    ),
    "not integer": (
        {"not": {"type": "integer"}},
        ['"a"', "true", "null", "[]", "{}"],
        ["1", "1.5", "1.0", "-3"],
    ),
    "not boolean const": (
        {"type": "boolean", "not": {"const": True}},
        ["false"], ["true"],
    ),
    "dynamicRef: the outermost anchor wins": (
        {"$id": "https://example.com/root", "$ref": "list",
         "$defs": {"foo": {"$dynamicAnchor": "items", "type": "string"},
                   "list": {"$id": "list", "type": "array", "items": {"$dynamicRef": "#items"},
                            "$defs": {"items": {"$dynamicAnchor": "items"}}}}},
        ['["a"]', "[]", '["a","b"]'],
        ["[1]", '["a",1]', "[null]"],
    ),
    "dynamicRef: the scope changes with the path": (
        {"$id": "https://example.com/generic", "type": "object",
         "properties": {"strings": {"$ref": "strings"}, "numbers": {"$ref": "numbers"}},
         "$defs": {
             "list": {"$id": "list", "type": "array", "items": {"$dynamicRef": "#item"},
                      "$defs": {"default": {"$dynamicAnchor": "item"}}},
             "strings": {"$id": "strings", "$ref": "list",
                         "$defs": {"item": {"$dynamicAnchor": "item", "type": "string"}}},
             "numbers": {"$id": "numbers", "$ref": "list",
                         "$defs": {"item": {"$dynamicAnchor": "item", "type": "number"}}},
         }},
        ['{"strings":["a"],"numbers":[1]}', '{"strings":[],"numbers":[2,3]}', '{}'],
        ['{"strings":[1]}', '{"numbers":["a"]}', '{"strings":["a"],"numbers":["b"]}'],
    ),
    "dynamicRef without a matching dynamic anchor in scope": (
        {"$id": "https://example.com/plain", "$ref": "list",
         "$defs": {"list": {"$id": "list", "type": "array", "items": {"$dynamicRef": "#item"},
                            "$defs": {"item": {"$dynamicAnchor": "item", "type": "boolean"}}}}},
        ["[true]", "[]"],
        ["[1]", '["a"]'],
    ),
    "format json-pointer": (
        {"format": "json-pointer"}, ['""', '"/a/b~0~1"', "1"], ['"a"', '"/~2"', '"#/a"'],
    ),
    "format regex": (
        {"type": "string", "format": "regex"},
        ['"^[a-z]+$"', '"(?:ab|c)*"'], ['"("', '"[z-a]"', '"a**"'],
    ),
}


def _valid(schema, text: str) -> bool:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(json.loads(text))


@pytest.mark.parametrize("name", sorted(CASES))
def test_mechanism_is_sound_and_produces(name):
    schema, produced, others = CASES[name]
    if produced is None:  # nothing is valid: the translator says so
        with pytest.raises(UnsupportedSchemaError, match="accepts no value"):
            to_expression(schema)
        assert not any(_valid(schema, text) for text in others)
        return
    expression = to_expression(schema)
    for text in produced:
        assert _valid(schema, text), (name, text)  # the case itself is right
        assert expression.matches(text), (name, text)
    for text in others:
        if expression.matches(text):
            assert _valid(schema, text), (name, text)
    assert any(not _valid(schema, text) for text in others), name  # the case can fail


def test_dynamic_ref_memo_is_per_scope():
    """One definition reached under two dynamic scopes translates twice: the first translation
    (strings) must not serve the second (numbers)."""
    schema = CASES["dynamicRef: the scope changes with the path"][0]
    expression = to_expression(schema)
    assert expression.matches('{"numbers":[1]}') and not expression.matches('{"numbers":["a"]}')
    assert expression.matches('{"strings":["a"]}') and not expression.matches('{"strings":[1]}')


def test_recursive_ref_that_depends_on_the_scope_is_still_refused():
    schema = {"$schema": "https://json-schema.org/draft/2019-09/schema",
              "$id": "https://example.com/tree", "$recursiveAnchor": True, "type": "object",
              "properties": {"data": True, "children": {"type": "array", "items": {"$recursiveRef": "#"}}},
              "$defs": {"strict": {"$id": "strict", "$recursiveAnchor": True, "$ref": "tree",
                                   "unevaluatedProperties": False}}}
    with pytest.raises(UnsupportedSchemaError) as info:
        to_expression({"$schema": "https://json-schema.org/draft/2019-09/schema",
                       "$ref": "https://example.com/strict", "$defs": {"tree": schema}})
    assert info.value.keyword in ("$recursiveRef", "$ref")
