"""Complements over arrays and `oneOf`, several `contains`, and pattern keys that overlap named
properties, each checked against `jsonschema`.

Each case is a schema, instances the expression must match (the mechanism works), and
instances it must not match; on top, every text of a seeded pool of small random JSON values
that the expression matches must be valid under `jsonschema` (soundness). Mechanisms:
- `not` of array item keywords (`negate._items`): "some item fails `items`" as a `contains` of
  the item complement, `prefixItems` (or draft-4 positional `items`) position by position,
  `contains` with its counts flipped;
- `not` of `oneOf` (two branches hold, or none); a variant settled to integers inside a
  number term is built as integers;
- several `contains` on one array (`arrays._with_several`);
- `patternProperties` whose pattern also matches a named property: its other keys are
  generated (the pattern's keys minus the named ones);
- `not` of member keywords with a member the schema does not name (`objects._unnamed_member`):
  a key failing `propertyNames`, matching a pattern with a value failing its schema, or
  outside `properties` with a value failing `additionalProperties`;
- a `format` no draft defines is an annotation in complements too (`negate`, `leafsets`);
- `not` of property dependencies ("a trigger present and a name absent, or its schema failing")
  and of `if`/`then`/`else` ("C and not T, or not C and not E"), also inside `oneOf`;
- `not multipleOf` with a modulus the digit constructions cannot write (`leafsets` over an
  unrolled remainder automaton, `numbers`).
About 5 s.
"""

from __future__ import annotations

import json
import random

import pytest
from jsonschema import validators

from schema2re import to_expression
from schema2re.errors import UnsupportedSchemaError

DRAFT4 = "http://json-schema.org/draft-04/schema#"

# name: (schema, texts the expression must match, texts it must not match)
CASES = {
    "not items": (
        {"type": "array", "not": {"items": {"type": "integer"}}},
        ['["a"]', '[1,"a"]', '[null,2,3]'],
        ["[]", "[1]", "[1,2]"],
    ),
    "not items, any type": (
        {"not": {"type": "array", "items": {"type": "integer"}}},
        ['["a"]', "1", "{}", '"x"', "null"],
        ["[]", "[1,2]"],
    ),
    "not items, draft 4": (
        {"$schema": DRAFT4, "type": "array", "not": {"items": {"type": "integer"}}},
        ['["a"]', "[1,null]"],
        ["[]", "[5]"],
    ),
    "not prefixItems": (
        {"type": "array", "not": {"prefixItems": [{"type": "integer"}, {"type": "string"}]}},
        ['["a"]', "[1,2]", '["a","b"]'],
        ["[]", "[1]", '[1,"a"]', '[1,"a",null]'],
    ),
    "not positional items, draft 4": (
        {"$schema": DRAFT4, "type": "array", "not": {"items": [{"type": "integer"}]}},
        ['["a"]', '[null,1]'],
        ["[]", "[1]", '[1,"a"]'],
    ),
    "not contains": (
        {"type": "array", "not": {"contains": {"type": "integer"}}},
        ['["a"]', "[]", "[null,true]"],
        ["[1]", '["a",2]'],
    ),
    "not contains with counts": (
        {"type": "array", "not": {"contains": {"type": "integer"}, "minContains": 2, "maxContains": 3}},
        ['["a",1]', "[]", "[1,1,1,1]"],
        ["[1,1]", '[1,"a",1,1]'],
    ),
    "member that fails an array schema (oneOf)": (
        {"oneOf": [{"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}},
                   {"required": ["a"], "properties": {"a": {"type": "array", "items": {"type": "integer"}}}}]},
        ['{"a":["x"]}', '{"a":[1]}', "{}"],
        ['{"a":[]}', '{"a":[1,"x"]}'],
    ),
    "integers settled from a number term": (  # a false accept of 2.5 before
        {"type": "number", "not": {"not": {"type": "integer"}}},
        ["3", "-1", "0"],
        ["2.5", "1.5", '"a"'],
    ),
    "not oneOf": (
        {"not": {"oneOf": [{"type": "integer"}, {"minimum": 2}]}},
        ["1.5", "3", "-1.5"],
        ['"a"', "1", "2.5", "null"],
    ),
    "not oneOf of required": (
        {"type": "object", "not": {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
         "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
        ["{}", '{"a":1,"b":2}'],
        ['{"a":1}', '{"b":2}'],
    ),
    "items that fail a oneOf": (
        {"type": "array", "items": {"not": {"oneOf": [{"type": "string"}, {"const": "a"}, {"type": "integer"}]}}},
        ['["a"]', "[null]", "[]", "[1.5]"],
        ['["b"]', "[1]"],
    ),
    "two contains": (
        {"type": "array", "allOf": [{"contains": {"type": "integer"}}, {"contains": {"type": "string"}}]},
        ['[1,"a"]', '["a",1]', '[null,1,null,"a",null]'],
        ["[1]", '["a"]', "[]"],
    ),
    "contains and some item fails": (
        {"type": "array", "contains": {"minimum": 2}, "not": {"items": {"type": "integer"}}},
        ["[2.5]", '[3,"a"]', '["a",3]', '["a"]'],  # "a" is not an integer, and minimum holds for it
        ["[3]", "[1,2]", "[]"],
    ),
    "pattern key overlapping a named property": (
        {"type": "object", "properties": {"default": {"type": "string"}},
         "patternProperties": {".*": {"type": "string"}}, "required": ["default"]},
        ['{"default":"x","b":"y","c":"z"}', '{"default":"x"}'],
        ['{"default":"x","b":1}', '{"b":"y"}', '{"default":"x","default":"y"}'],
    ),
    "prefix pattern key overlapping a named property": (
        {"type": "object", "properties": {"x-a": {"type": "integer"}},
         "patternProperties": {"^x-": {"minimum": 3}}, "additionalProperties": False},
        ['{"x-a":3,"x-b":4}', '{"x-bc":"s"}', "{}"],
        ['{"x-a":1}', '{"x-b":2}', '{"y":3}'],
    ),
    "some member name": (
        {"type": "object", "not": {"propertyNames": False}},
        ['{"a":1}', '{"x":null}'],
        ["{}"],
    ),
    "a member named 0": (
        {"type": "object", "not": {"propertyNames": {"not": {"const": "0"}}}},
        ['{"0":1}'],
        ["{}", '{"a":1}'],
    ),
    "two names in one member, with patternProperties and maxProperties": (
        {"type": "object", "allOf": [{"not": {"propertyNames": {"not": {"pattern": "a1"}}}},
                                     {"not": {"propertyNames": {"not": {"pattern": "b2"}}}},
                                     {"propertyNames": {"pattern": "^....$"}}, {"maxProperties": 1},
                                     {"patternProperties": {"\\d": {"type": "boolean"}}}]},
        ['{"a1b2":true}', '{"b2a1":false}'],
        ['{"a1b2":1}', '{"a1xx":true}', "{}"],
    ),
    "a member matching a pattern whose value passes": (
        {"type": "object", "not": {"patternProperties": {"a": {"not": {"type": "string", "pattern": "A"}}}}},
        ['{"a":"A"}', '{"xa":"xAx"}'],
        ['{"a":"b"}', '{"b":"A"}', "{}"],
    ),
    "an unnamed member failing additionalProperties": (
        {"type": "object", "not": {"properties": {"y": {}}, "additionalProperties": {"type": "integer"}}},
        ['{"z":"s"}', '{"a":null}'],
        ['{"y":"s"}', '{"z":1}', "{}"],
    ),
    "a member key from a pattern when additionalProperties is false": (
        {"type": "object", "patternProperties": {"^[0-9]$": {"type": "array", "minItems": 2}},
         "additionalProperties": False, "not": {"propertyNames": {"not": {"enum": ["1", "3"]}}}},
        ['{"1":[1,2]}', '{"3":[0,0,0]}'],
        ['{"2":[1,2]}', '{"1":[1]}', "{}"],
    ),
    "a format no draft defines, complemented": (  # an annotation: it accepts every string
        {"type": "object", "oneOf": [{"properties": {"a": {"type": "string", "format": "mongoId"}}, "required": ["a"]},
                                     {"properties": {"b": {"type": "integer"}}, "required": ["b"]}]},
        ['{"a":"x"}', '{"b":1}'],
        ['{"a":"x","b":1}', "{}"],
    ),
    "not dependentRequired": (
        {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
         "not": {"dependentRequired": {"a": ["b"]}}},
        ['{"a":1}'],
        ['{"a":1,"b":2}', '{"b":2}', "{}"],
    ),
    "not dependentSchemas": (
        {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
         "not": {"dependentSchemas": {"a": {"properties": {"b": {"const": 1}}}}}},
        ['{"a":1,"b":2}'],
        ['{"a":1}', '{"a":1,"b":1}', '{"b":2}', "{}"],
    ),
    "not dependencies, draft 4": (
        {"$schema": DRAFT4, "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
         "not": {"dependencies": {"a": ["b"], "b": {"properties": {"a": {"minimum": 5}}}}}},
        ['{"a":1}', '{"a":1,"b":2}'],
        ['{"a":5,"b":2}', "{}"],
    ),
    "oneOf with property dependencies": (
        {"type": "object", "properties": {"x": {"type": "integer"}, "e": {"type": "integer"}},
         "oneOf": [{"dependentRequired": {"x": ["e"]}}, {"required": ["x"]}]},
        ["{}", '{"x":1}', '{"e":2}'],
        ['{"x":1,"e":2}'],
    ),
    "not if-then-else": (
        {"type": "integer", "not": {"if": {"minimum": 5}, "then": {"multipleOf": 2}, "else": {"maximum": 0}}},
        ["1", "4", "5", "7"],
        ["0", "-3", "6", "8"],
    ),
    "oneOf with if-then": (
        {"oneOf": [{"type": "integer", "if": {"minimum": 3}, "then": {"maximum": 6}},
                   {"type": "integer", "minimum": 5}]},
        ["-3", "4", "7", "100"],
        ["5", "6", "2.5"],
    ),
    "not multipleOf 11 (an unrolled remainder automaton)": (
        {"type": "number", "minimum": 1, "not": {"multipleOf": 11}, "anyOf": [{"multipleOf": 3}, {"multipleOf": 7}]},
        ["3", "7", "21", "36"],
        ["33", "77", "0", "231", "2.5"],
    ),
    "not of a string with a format no draft defines": (
        {"type": "string", "not": {"format": "mongoId", "minLength": 2}},
        ['"a"', '""'],
        ['"ab"', '"abc"'],
    ),
}


def _pool(seed: int, n: int) -> list[str]:
    rnd = random.Random(seed)

    def value(depth: int):
        k = rnd.randrange(8 if depth > 0 else 5)
        if k == 0:
            return None
        if k == 1:
            return rnd.choice([True, False])
        if k == 2:
            return rnd.choice([0, 1, 2, 3, 5, -3, 1.5, 2.5, 100])
        if k == 3:
            return rnd.choice(["", "a", "b", "ab", "x", "99", "abcd"])
        if k == 4:
            return rnd.choice([0, "a", None, 3])
        if k in (5, 6):
            return [value(depth - 1) for _ in range(rnd.randrange(4))]
        keys = ["a", "b", "default", "x-a", "x-b", "y", "z", "0", "1", "2", "a1b2", "xa"]
        return {rnd.choice(keys): value(depth - 1) for _ in range(rnd.randrange(4))}

    return [json.dumps(value(2), separators=(",", ":")) for _ in range(n)]


POOL = _pool(7, 1500)


@pytest.mark.parametrize("name", sorted(CASES))
def test_complement_is_sound_and_produces(name):
    schema, produced, rejected = CASES[name]
    expression = to_expression(schema)
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    validator = cls(schema)
    for text in produced:
        assert validator.is_valid(json.loads(text)), f"test data: {text} is invalid"
        assert expression.matches(text), f"should match: {text}"
    for text in rejected:
        assert not expression.matches(text), f"should not match: {text}"
    matched = [t for t in POOL if expression.matches(t)]
    assert all(validator.is_valid(json.loads(t)) for t in matched), \
        [t for t in matched if not validator.is_valid(json.loads(t))][:5]


def test_several_contains_with_max_items_is_refused():
    with pytest.raises(UnsupportedSchemaError, match="several contains"):
        to_expression({"type": "array", "maxItems": 3,
                       "allOf": [{"contains": {"const": 1}}, {"contains": {"const": 2}}]})


def test_items_after_prefix_items_has_no_complement():
    # "some item after the prefix fails" is neither one position nor every position
    with pytest.raises(UnsupportedSchemaError, match="'not'"):
        to_expression({"type": "array", "not": {"prefixItems": [{"type": "integer"}],
                                                "items": {"type": "string"}}})


def test_unnamed_member_follows_the_extra_properties_policy():
    # properties named and additionalProperties absent: no undeclared member unless asked
    schema = {"type": "object", "properties": {"x": {"type": "integer"}},
              "not": {"additionalProperties": {"type": "integer"}}}
    with pytest.raises(UnsupportedSchemaError):
        to_expression(schema)
    e = to_expression(schema, extra_properties=True)
    assert e.matches('{"x":1,"z":"s"}') and not e.matches('{"x":1}') and not e.matches('{"x":1,"z":2}')
