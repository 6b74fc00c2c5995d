"""schema2re.to_regex: API, errors, keyword semantics, size, and a differential soundness check.

Every check compares the regex with the schema's own validator (jsonschema) on concrete texts,
serialized compactly as the contract states.
"""

from __future__ import annotations

import json
import warnings
from typing import Literal

import jsonschema
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from decoding.automaton import syntax
from decoding.errors import UsageError
from schema2re import (
    IgnoredKeywordsWarning,
    SchemaError,
    SchemaToRegexError,
    UnsupportedSchemaError,
    check_options,
    to_expression,
    to_regex,
)


class Raw(str):
    """A text to match as is (any other item is a JSON value, serialized compactly)."""


def text(value) -> str:
    if isinstance(value, Raw):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def matches(schema, value, **options) -> bool:
    return regex.fullmatch(to_regex(schema, **options), text(value)) is not None


def check(schema, accepted=(), rejected=(), **options):
    """Items of `accepted` match, those of `rejected` do not; the validator agrees on matches."""
    pattern = regex.compile(to_regex(schema, **options))
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema)
    for item in accepted:
        candidate = text(item)
        assert pattern.fullmatch(candidate), f"should match: {candidate}"
        assert validator.is_valid(json.loads(candidate)), f"matched but invalid: {candidate}"
    for item in rejected:
        candidate = text(item)
        assert not pattern.fullmatch(candidate), f"should not match: {candidate}"


# ---------------------------------------------------------------- inputs


class Point(BaseModel):
    x: int
    y: int


def test_accepts_dict_json_text_bytes_model_and_types():
    schema = {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
              "required": ["x", "y"]}
    expected = to_regex(schema)
    assert to_regex(json.dumps(schema)) == expected
    assert to_regex(json.dumps(schema).encode()) == expected
    assert regex.fullmatch(to_regex(Point), '{"x":1, "y":-2}')
    assert regex.fullmatch(to_regex(list[int]), "[1, 2,3]")
    assert not regex.fullmatch(to_regex(list[int]), '["a"]')
    lit = to_regex(Literal["a", "b"])
    assert regex.fullmatch(lit, '"a"') and not regex.fullmatch(lit, '"c"')
    assert to_regex(True) == to_regex({})


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", "3", '{"const": NaN}', b"\xff"])
def test_not_json_or_not_a_schema_is_schema_error(bad):
    with pytest.raises(SchemaError):
        to_regex(bad)


def test_invalid_schema_reports_pointer_and_keyword():
    with pytest.raises(SchemaError) as info:
        to_regex({"properties": {"a": {"minimum": "x"}}})
    assert info.value.pointer == "/properties/a/minimum"
    assert info.value.keyword == "minimum"
    assert "/properties/a/minimum" in str(info.value) and "minimum" in str(info.value)


MALFORMED = [("required", {"a": 1}), ("enum", "x"), ("properties", []), ("pattern", 5),
             ("$ref", {}), ("items", 3), ("type", ["string", {}]), ("minLength", "3"),
             ("multipleOf", 0), ("format", []), ("type", -0.0)]


@pytest.mark.parametrize("keyword, value", MALFORMED)
@pytest.mark.parametrize("where", ["root", "nested", "ref target outside the schema keywords"])
def test_malformed_keyword_values_are_schema_errors_with_keyword_and_pointer(keyword, value, where):
    """Found by fuzzing mutated dev-set schemas: a subschema that only a `$ref` reaches (under an
    unknown keyword) escaped the meta-schema check, and the translator failed on it with
    `TypeError: unhashable type: 'dict'` and the like."""
    bad = {"type": "object", keyword: value}
    schema, pointer = {
        "root": (bad, ""),
        "nested": ({"properties": {"a": bad}}, "/properties/a"),
        "ref target outside the schema keywords": (
            {"components": {"a": bad}, "properties": {"b": {"$ref": "#/components/a"}}},
            "/components/a"),
    }[where]
    with pytest.raises(SchemaError) as info:
        to_expression(schema)
    assert info.value.keyword == keyword
    assert info.value.pointer == f"{pointer}/{keyword.replace('/', '~1')}"


@pytest.mark.parametrize("schema, keyword, pointer", [
    ({"$schema": {}}, "$schema", "/$schema"),
    ({"$schema": 5e-324}, "$schema", "/$schema"),
    ({"x": [1], "$ref": "#/x"}, "$ref", "/x"),
    ({"allOf": [{"$ref": "#/ddd/npn1"}], "ddd": ["string", {}]}, "$ref", "/allOf/0/$ref"),
    ({"$schema": "http://json-schema.org/draft-04/schema#", "items": {
        "properties": {"id": {"additionalItems": {"$ref": {}}}}, "$ref": "#/items/properties/id"}},
     "$ref", "/items/$ref"),
])
def test_a_bad_dialect_or_reference_target_is_a_schema_error(schema, keyword, pointer):
    """Found by fuzzing: a `$schema` that is no string, a reference into a list, a target that is
    no schema, or one the resolver library fails on raised TypeError, ValueError or
    AttributeError."""
    with pytest.raises(SchemaError) as info:
        to_expression(schema)
    assert (info.value.keyword, info.value.pointer) == (keyword, pointer)


def test_a_validator_failure_on_enum_candidates_counts_as_invalid():
    """Found by fuzzing: checking enum candidates, jsonschema followed a draft-4 `$ref` (that the
    translator never resolves) to a list and raised AttributeError out of `to_expression`."""
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "enum": [1, 2],
              "not": {"$ref": "#/x"}, "x": [1]}
    with pytest.raises(UnsupportedSchemaError, match="accepts no value"):
        to_expression(schema)
    # A self-referential `not` recursed inside the validator's Rust maps: pyo3's PanicException.
    with pytest.raises(UnsupportedSchemaError, match="accepts no value"):
        to_expression({"allOf": [{"enum": [{"foo": "x"}]}, {"not": {"$ref": "#/allOf/1"}}]})
    # A `$ref` to a `properties` map: its `type` member is a schema, read as a type name
    # jsonschema raised UnknownType; the target is then refused as no schema.
    to_properties = {"$schema": "http://json-schema.org/draft-04/schema#", "oneOf": [
        {"required": ["t"], "properties": {"t": {"enum": ["a"]}}},
        {"properties": {"type": {"enum": ["b"], "$ref": "#/oneOf/1/properties"}}}]}
    with pytest.raises(SchemaError, match="target of \\$ref '#/oneOf/1/properties'"):
        to_expression(to_properties)


def test_a_valid_ref_target_outside_the_schema_keywords_translates():
    schema = {"components": {"a": {"type": "string", "maxLength": 2}},
              "properties": {"b": {"$ref": "#/components/a"}}, "required": ["b"]}
    assert to_expression(schema).matches('{"b":"xy"}')
    assert not to_expression(schema).matches('{"b":"xyz"}')


def test_errors_share_a_base_and_are_value_errors():
    assert issubclass(SchemaError, SchemaToRegexError) and issubclass(UnsupportedSchemaError, SchemaToRegexError)
    assert issubclass(SchemaToRegexError, ValueError)


def test_bad_options():
    with pytest.raises(ValueError):
        to_regex({}, max_depth=-1)
    with pytest.raises(TypeError):
        to_regex({}, whitespace=3)
    with pytest.raises(ValueError):
        to_regex({}, whitespace="(")
    with pytest.raises(SchemaError):
        to_regex(object())


# ---------------------------------------------------------------- refusals and lenient


@pytest.mark.parametrize("schema, keyword, pointer", [
    ({"type": "array", "prefixItems": [{"type": "integer"}], "contains": {"type": "string"}}, "contains", "/contains"),
    ({"type": "array", "items": {"type": "object"}, "uniqueItems": True}, "uniqueItems", "/uniqueItems"),
    ({"properties": {"a": {"type": "string", "not": {"format": "email"}}}}, "not", "/properties/a/not"),
    ({"$ref": "https://example.com/other.json"}, "$ref", "/$ref"),
    ({"type": "string", "format": "color"}, "format", ""),
    ({"oneOf": [{"type": "string", "format": "email"}, {"type": "string", "pattern": "b"}]}, "oneOf", "/oneOf"),
    ({"$schema": "http://json-schema.org/draft-03/schema#"}, "$schema", ""),
])
def test_unsupported_names_keyword_and_pointer(schema, keyword, pointer):
    with pytest.raises(UnsupportedSchemaError) as info:
        to_regex(schema)
    assert info.value.keyword == keyword
    assert info.value.pointer == pointer


def test_lenient_ignores_and_warns_once():
    schema = {"type": "object", "properties": {
        "a": {"type": "array", "items": {"type": "object"}, "uniqueItems": True},
        "b": {"type": "string", "format": "color"}}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pattern = to_regex(schema, lenient=True)
    relevant = [w for w in caught if issubclass(w.category, IgnoredKeywordsWarning)]
    assert len(relevant) == 1
    message = str(relevant[0].message)
    assert "uniqueItems at '/properties/a/uniqueItems'" in message and "format at '/properties/b'" in message
    assert regex.fullmatch(pattern, '{"a":[{},{}],"b":"x"}')


def test_missing_local_ref_is_schema_error():
    with pytest.raises(SchemaError) as info:
        to_regex({"$ref": "#/$defs/missing"})
    assert info.value.pointer == "/$ref"


def test_false_schema_generates_nothing():
    with pytest.raises(UnsupportedSchemaError):
        to_regex(False)
    with pytest.raises(UnsupportedSchemaError):
        to_regex({"type": "integer", "minimum": 5, "maximum": 4})


# ---------------------------------------------------------------- objects


PROPS = {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}}


def test_properties_in_schema_order_with_optional_and_required():
    schema = {"type": "object", "properties": PROPS, "required": ["b"]}
    check(schema,
          accepted=[{"b": ""}, {"a": 1, "b": "x"}, {"b": "x", "c": True}, {"a": 1, "b": "x", "c": False},
                    Raw('{"a": 1, "b": "x"}')],
          rejected=[{}, {"a": 1}, Raw('{"c":true,"b":"x"}'), Raw('{"b":"x",}'), Raw('{"a":1,"b":"x","b":"y"}'),
                    Raw('{ "b":"x"}'), Raw('{"b" :"x"}'), Raw('{"d":1,"b":"x"}')])


def test_required_first_is_a_second_order_for_small_objects():
    schema = {"type": "object", "required": ["c", "a"],
              "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "null"}}}
    check(schema, accepted=[{"a": 1, "b": "", "c": None}, {"c": None, "a": 1, "b": ""}, {"a": 1, "c": None},
                            {"c": None, "a": 1}],
          rejected=[{"b": "", "c": None, "a": 1}, {"c": None, "b": "", "a": 1}, Raw('{"a":1,"c":null,"a":2}'),
                    Raw('{"c":null,"a":1,"c":null}')])
    # past MAX_REORDERED_SIZE of members, schema order only
    big = {"type": "object", "properties": {"a": {}, "b": {}}, "required": ["b"]}
    check(big, accepted=[{"a": 1, "b": 2}], rejected=[{"b": 2, "a": 1}])


def test_all_optional_object():
    check({"type": "object", "properties": PROPS},
          accepted=[{}, {"a": 1}, {"c": True}, {"a": 1, "c": True}, {"a": 1, "b": "", "c": True}],
          rejected=[Raw('{"c":true,"a":1}'), Raw('{,"a":1}'), Raw('{"a":1,}')])


def test_many_optional_properties_stay_linear_and_shallow():
    one = len(to_regex({"type": "object", "properties": {"p": {"type": "integer"}}}))
    props = {f"p{i}": {"type": "integer"} for i in range(300)}
    pattern = to_regex({"type": "object", "properties": props})
    assert len(pattern) < 5 * 300 * one  # 4 copies of each member past 32 optional ones
    syntax.parse(pattern)  # nesting within typedecode's limit
    assert regex.fullmatch(pattern, text({"p3": 1, "p150": 2, "p299": 3}))
    assert not regex.fullmatch(pattern, text({"p150": 2, "p3": 1}))


def test_additional_properties_schema_and_no_duplicate_keys():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}},
              "additionalProperties": {"type": "string"}}
    check(schema, accepted=[{"a": 1, "zz": "x"}, {"zz": "x"}, {}],
          rejected=[Raw('{"a":1,"a":2}'), Raw('{"a":"x"}'), Raw('{"a":1,"zz":1}'), Raw('{"\\u0061":"x"}')])


def test_additional_properties_absent_extras_only_with_extra_properties():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    check(schema, accepted=[{"a": 1}], rejected=[{"a": 1, "extra": 2}])  # default: named properties only
    check(schema, accepted=[{"a": 1, "extra": 2}, {"a": 1, "x": [1], "y": {"z": None}}, Raw('{"a":1,"x":1,"x":"s"}')],
          rejected=[{"extra": 2}, Raw('{"a":1,"a":2}'), Raw('{"a":1,"b":2,"a":3}'), Raw('{"a":1,"\\u0061":"s"}'),
                    Raw('{"x":1,"a":1}')], extra_properties=True)
    check({"type": "object"}, accepted=[{"k": [1, {"x": None, "y": 2}]}, {"a": 1, "b": 2, "c": 3}])  # free-form
    with pytest.raises(TypeError):
        to_regex(schema, True)  # type: ignore[misc]  # options are keyword-only


def test_extras_with_absent_additional_properties_obey_unevaluated_properties():
    check({"type": "object", "properties": {"a": {}}, "unevaluatedProperties": {"type": "integer"}},
          accepted=[{"a": "s", "b": 1, "c": 2}], rejected=[{"a": 1, "b": "s"}], extra_properties=True)
    check({"type": "object", "properties": {"a": {}}, "unevaluatedProperties": False},
          accepted=[{"a": 1}], rejected=[{"a": 1, "b": 1}], extra_properties=True)


def test_extra_keys_avoid_dependency_triggers_and_complemented_names():
    # "t" is only a trigger: as an extra key it would need "a"
    check({"type": "object", "properties": {"a": {}}, "dependentRequired": {"t": ["a"]}},
          accepted=[{"a": 1, "u": 2}, {"u": 1}], rejected=[{"t": 1}, Raw('{"u":1,"t":2}')], extra_properties=True)
    check({"type": "object", "additionalProperties": True, "dependentRequired": {"t": ["a"]}},
          accepted=[{"u": 1, "v": 2}], rejected=[{"t": 1}, Raw('{"u":1,"t":2}')])
    # oneOf: a text with both keys is valid under both branches, hence invalid
    check({"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}], "additionalProperties": True},
          accepted=[{"a": 1}, {"b": 1}, {"a": 1, "c": 2}, {"b": 1, "c": 2, "d": 3}],
          rejected=[{"a": 1, "b": 2}, Raw('{"a":1,"c":2,"b":3}'), Raw('{"b":1,"c":2,"a":3}')])
    check({"type": "object", "if": {"required": ["k"]}, "then": {"required": ["v"]}},
          accepted=[{}, {"z": 1}, {"k": 1, "v": 2}], rejected=[{"k": 1}, Raw('{"z":1,"k":2}')], extra_properties=True)
    check({"type": "object", "not": {"required": ["b"]}}, accepted=[{"a": 1, "c": 2}], rejected=[{"a": 1, "b": 2}],
          extra_properties=True)


def test_several_extra_members_and_repeated_extra_keys():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}},
              "additionalProperties": {"type": "string"}}
    check(schema, accepted=[{"a": 1, "x": "1", "y": "2"}, {"x": "1", "y": "2", "z": ""},
                            Raw('{"x":"1","x":"2"}'), Raw('{"a":1, "x":"1", "y":"2"}')],
          rejected=[Raw('{"a":1,"x":"s","a":2}'), Raw('{"x":"s","\\u0061":"t"}'), Raw('{"x":"s","a":"t"}'),
                    Raw('{"a":1,"x":1}'), Raw('{"a":1,"x":"s",}'), Raw('{"a":1,,"x":"s"}')])
    check({"type": "object", "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
          accepted=[{"x-a": 1, "x-b": 2}, Raw('{"x-a":1,"x-a":2}')],
          rejected=[{"x-a": 1, "y": 2}, {"x-a": 1, "x-b": "s"}])


def test_repeated_extra_keys_never_satisfy_min_properties():
    schema = {"type": "object", "properties": {"a": {}}, "additionalProperties": {"type": "integer"},
              "minProperties": 2}
    check(schema, accepted=[{"a": 1, "x": 1}, {"a": 1, "x": 1, "y": 2}],
          rejected=[Raw('{"x":1,"x":2}'), Raw('{"x":1,"x":2,"x":3}'), {"a": 1}])
    with pytest.raises(UnsupportedSchemaError, match="minProperties"):
        to_regex({"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2})
    # maxProperties: at most one extra member is generated, so the count stays exact
    check({"type": "object", "properties": {"a": {}}, "additionalProperties": {"type": "integer"},
           "maxProperties": 2},
          accepted=[{"a": 1, "x": 1}, {"x": 1}], rejected=[{"a": 1, "x": 1, "y": 2}, {"x": 1, "y": 2, "z": 3}])
    check({"type": "object", "not": {"minProperties": 2}}, accepted=[{}, {"x": 1}], rejected=[{"x": 1, "y": 2}])


def test_additional_properties_false_and_required_extra_name():
    check({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
          accepted=[{}, {"a": 1}], rejected=[{"b": 1}])
    with pytest.raises(UnsupportedSchemaError):
        to_regex({"type": "object", "required": ["b"], "additionalProperties": False})


def test_pattern_properties():
    check({"type": "object", "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
          accepted=[{}, {"x-a": 1}], rejected=[{"x-a": "s"}, {"y": 1}])
    # a named property matching a pattern must satisfy both; the pattern's other keys are
    # generated too (the pattern's keys minus the named one: an intersection, no regex text)
    schema = {"type": "object", "properties": {"x-a": {"type": "number"}},
              "patternProperties": {"^x-": {"type": "integer"}}, "required": ["x-a"]}
    e = to_expression(schema)
    assert [e.matches(text(v)) for v in ({"x-a": 3}, {"x-a": 3, "x-b": 4})] == [True, True]
    assert [e.matches(text(v)) for v in ({"x-a": 3.5}, {"x-a": 3, "x-b": "s"}, {"x-a": 3, "y": 1})] == [False] * 3
    assert not e.matches('{"x-a":3,"x-a":3}')  # the named key is never generated again


def test_min_and_max_properties():
    schema = {"type": "object", "properties": PROPS, "minProperties": 1, "maxProperties": 2}
    check(schema, accepted=[{"a": 1}, {"a": 1, "c": True}, {"b": "", "c": True}],
          rejected=[{}, {"a": 1, "b": "", "c": True}])


def test_dependent_required_is_exact():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
              "dependentRequired": {"a": ["b"]}}
    check(schema, accepted=[{}, {"b": 1}, {"a": 1, "b": 2}], rejected=[{"a": 1}])


def test_seven_optional_dependency_triggers_compile():
    # each optional trigger splits the object in two (absent / present): 2**7 variants
    names = "abcdefg"
    schema = {"type": "object", "properties": {n: {"type": "integer"} for n in names + "z"},
              "additionalProperties": False, "dependentRequired": {n: ["z"] for n in names}}
    check(schema, accepted=[{}, {"z": 1}, {"a": 1, "g": 2, "z": 3}, {n: 1 for n in names + "z"}],
          rejected=[{"a": 1}, {n: 1 for n in names}])


def test_property_names_filter_named_properties():
    schema = {"type": "object", "properties": {"ok": {"type": "integer"}, "no!": {"type": "integer"}},
              "propertyNames": {"pattern": "^[a-z]+$"}}
    check(schema, accepted=[{"ok": 1}], rejected=[{"no!": 1}])


# ---------------------------------------------------------------- arrays


def test_items_prefix_items_and_counts():
    check({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
          accepted=[[], [1], [1, "a"]], rejected=[[1, "a", 2], ["a"]])
    check({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3},
          accepted=[[1, 2], [1, 2, 3], Raw("[1, 2]")], rejected=[[1], [1, 2, 3, 4], Raw('[1 ,2]')])


def test_unique_items_over_a_finite_set():
    schema = {"type": "array", "items": {"enum": ["a", "b", 1, 1.0]}, "uniqueItems": True}
    check(schema, accepted=[[], ["a"], ["a", "b"], ["b", 1], ["a", 1.0], ["b", "a"], [1, "b", "a"]],
          rejected=[["a", "a"], [1, 1.0], ["b", 1, "b"], [1.0, "a", 1]])
    # past sequence.MAX_ANY_ORDER values, in the set's order
    many = {"type": "array", "items": {"enum": list("abcdefghi")}, "uniqueItems": True}
    check(many, accepted=[["a", "c", "i"]], rejected=[["c", "a"], ["a", "a"]])


def test_contains_and_min_contains():
    check({"type": "array", "items": {"type": "integer"}, "contains": {"minimum": 5}},
          accepted=[[5], [1, 6, 2], [1, 2, 7]], rejected=[[], [1, 2]])
    check({"type": "array", "contains": {"const": 1}, "minContains": 2, "maxItems": 3},
          accepted=[[1, 1], [1, 1, "x"]], rejected=[[1], [1, 1, 1, 1]])


def test_draft7_tuple_items_and_additional_items():
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "array",
              "items": [{"type": "integer"}], "additionalItems": {"type": "string"}}
    check(schema, accepted=[[1], [1, "x", "y"]], rejected=[["x"], [1, 2]])


# ---------------------------------------------------------------- scalars and combinators


def test_enum_const_with_json_equality():
    check({"enum": [1, "a", None, {"k": [1.5]}]}, accepted=[1, 1.0, "a", None, {"k": [1.5]}],
          rejected=[2, Raw('"b"'), {"k": [1]}])
    check({"const": 2.0, "type": "integer"}, accepted=[2, 2.0])


def test_keywords_without_type_apply_to_their_type_only():
    check({"minimum": 5}, accepted=[5, 7.5, "abc", None, [1], {"k": 1}], rejected=[4, -1.5])
    check({"maxLength": 2}, accepted=["ab", 100], rejected=[Raw('"abc"')])


def test_any_of_all_of_and_type_lists():
    check({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]},
          accepted=[3, "a"], rejected=[Raw('"ab"'), True])
    check({"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 5}, {"multipleOf": 2}]},
          accepted=[0, 2, 4], rejected=[6, 3, -2])
    check({"type": ["string", "null"]}, accepted=["x", None], rejected=[1])


def test_all_of_merges_objects_exactly():
    schema = {"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
                        {"properties": {"b": {"type": "integer"}}, "required": ["a"]}]}
    check(schema, accepted=[{"a": 1}], rejected=[{"a": 1, "b": 2}, {}])


def test_one_of_discriminated_union_and_overlap_refinement():
    union = {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}}, "required": ["kind"]},
        {"type": "object", "properties": {"kind": {"const": "dog"}, "bark": {"type": "boolean"}}, "required": ["kind"]},
    ]}
    check(union, accepted=[{"kind": "cat", "lives": 9}, {"kind": "dog"}], rejected=[{"kind": "cow"}])
    overlap = {"type": "integer", "oneOf": [{"minimum": 5}, {"maximum": 10}]}
    check(overlap, accepted=[3, 12, 4, 11], rejected=[5, 7, 10])


def test_one_of_refined_by_closed_objects():
    choice = {"oneOf": [
        {"type": "object", "additionalProperties": False, "properties": {"foo": {"type": "string"}}},
        {"type": "object", "additionalProperties": False, "properties": {"bar": {"type": "string"}}}]}
    check(choice, accepted=[{"foo": "a"}, {"bar": "b"}], rejected=[{}])


def test_unknown_formats_are_annotations():
    check({"type": "string", "format": "my-own-format"}, accepted=["anything", ""])
    with pytest.raises(UnsupportedSchemaError):
        to_regex({"type": "string", "format": "color"})


def test_not_and_if_then_else():
    check({"not": {"type": ["string", "array", "object", "boolean", "null"]}}, accepted=[1, 2.5], rejected=["a", []])
    check({"type": "object", "properties": {"a": {"type": "integer"}}, "not": {"required": ["a"]}},
          accepted=[{}], rejected=[{"a": 1}])
    check({"type": "string", "not": {"enum": ["no", "nope"]}}, accepted=["yes", "n", ""], rejected=[Raw('"no"'), Raw('"nope"')])
    check({"type": "integer", "if": {"minimum": 10}, "then": {"multipleOf": 5}, "else": {"maximum": 3}},
          accepted=[10, 15, 3, -4], rejected=[11, 5, 9])


# ---------------------------------------------------------------- references and recursion


def test_refs_with_escapes_defs_definitions_and_ids():
    schema = {"$defs": {"a/b": {"type": "integer"}, "t~x": {"type": "string"}},
              "definitions": {"d": {"type": "boolean"}},
              "type": "array", "prefixItems": [{"$ref": "#/$defs/a~1b"}, {"$ref": "#/$defs/t~0x"},
                                               {"$ref": "#/definitions/d"}, {"$ref": "item.json"}],
              "items": False,
              "properties": {}, "$id": "https://example.com/root.json",
              "$comment": "item.json is embedded below",
              "contentSchema": {}}
    schema["$defs"]["item"] = {"$id": "item.json", "type": "null"}
    check(schema, accepted=[[1, "s", True, None]], rejected=[[1, 2]])


def test_recursion_unrolled_to_max_depth_and_required_never_dropped():
    tree = {"$defs": {"node": {"type": "object", "properties": {
        "v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
        "required": ["v"]}}, "$ref": "#/$defs/node"}
    nested = {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3}]}]}
    assert matches(tree, nested)
    assert not matches(tree, {"v": 1, "kids": [{"v": 2, "kids": [{"v": 3, "kids": [{"v": 4}]}]}]})
    assert not matches(tree, nested, max_depth=2) and matches(tree, {"v": 1, "kids": [{"v": 2}]}, max_depth=2)
    chain = {"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}},
                             "required": ["next"]}}, "$ref": "#/$defs/n"}
    with pytest.raises(UnsupportedSchemaError) as info:
        to_regex(chain)
    assert info.value.keyword == "$ref"


def test_ref_loops_without_progress_terminate():
    with pytest.raises(UnsupportedSchemaError):
        to_regex({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})


def test_draft4_boolean_exclusive_bounds_and_draft7_ref_siblings():
    check({"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer",
           "minimum": 1, "exclusiveMinimum": True, "maximum": 3}, accepted=[2, 3], rejected=[1, 4])
    check({"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"i": {"type": "integer"}},
           "$ref": "#/definitions/i", "maximum": 0}, accepted=[5])


# ---------------------------------------------------------------- whitespace and syntax


def test_checking_default_options_imports_no_translator_module():
    # A warm process checks options (`ConstraintOptions`) but never translates.
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import json, sys, schema2re\n"
            "schema2re.check_options(max_depth=2)\n"
            "print(json.dumps([m for m in sys.modules if m.startswith('schema2re.')]))")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         check=True, env={**os.environ, "PYTHONPATH": str(root)})
    loaded = set(json.loads(out.stdout))
    assert not loaded & {"schema2re.whitespace", "schema2re.rx", "schema2re.translate"}, loaded
    with pytest.raises(UsageError, match="whitespace regex"):
        check_options(whitespace="(")
    with pytest.raises(UsageError, match="regex module compiles safely"):  # would segfault regex
        check_options(whitespace="(?:(?:ab|b){700}){700}")
    with pytest.raises(UsageError, match="max_depth"):
        check_options(max_depth=-1)


def test_whitespace_policies():
    schema = {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    assert matches(schema, Raw('[{"a": 1}, {}]'))
    assert not matches(schema, Raw('[{"a":  1}]')) and not matches(schema, Raw('[ {"a":1}]'))
    assert matches(schema, Raw('[\n  {\n    "a" : 1\n  }\n]'), whitespace="flexible")
    assert not matches(schema, "[" + " " * 40 + "]", whitespace="flexible")
    assert matches(schema, Raw('[{"a":\t1}]'), whitespace="\t?")


def test_output_uses_only_the_portable_subset():
    schemas = [Point.model_json_schema(), {}, {"type": "object", "additionalProperties": {"type": "number"}},
               {"type": "string", "not": {"enum": ["x"]}}, {"enum": ["a.b", "(c)", "[d]", "e|f", "\\"]}]
    for schema in schemas:
        pattern = to_regex(schema)
        syntax.parse(pattern)  # raises on lookaround, backreferences, anchors...
        assert "(?=" not in pattern and "(?!" not in pattern and "\\d" not in pattern


def test_size_explosions_are_refused_not_built():
    branches = [{"anyOf": [{"type": "object", "properties": {f"k{i}{j}": {"type": "integer"}}, "required": [f"k{i}{j}"]}
                           for j in range(4)]} for i in range(8)]
    with pytest.raises(UnsupportedSchemaError):
        to_regex({"allOf": branches})


# ---------------------------------------------------------------- differential soundness


LEAVES = [
    {"type": "integer", "minimum": -3, "maximum": 40},
    {"type": "number", "exclusiveMaximum": 2.5},
    {"type": "string", "maxLength": 3},
    {"type": "boolean"},
    {"type": "null"},
    {"enum": [1, "a", None, [1]]},
    {"const": "k"},
    {"minimum": 2},
    {},
]


def _object(properties, required, additional, more):
    """An object schema; `additional` None leaves additionalProperties out."""
    out = {"type": "object", "properties": properties, "required": required, **more}
    if additional is not None:
        out["additionalProperties"] = additional
    return out


def schemas():
    leaf = st.sampled_from(LEAVES)

    def extend(inner):
        names = st.sampled_from(["a", "b", "c"])
        return st.one_of(
            st.builds(_object, st.dictionaries(names, inner, max_size=3), st.lists(names, max_size=2, unique=True),
                      st.one_of(st.just(False), st.just(True), st.none(), inner),
                      st.sampled_from([{}, {}, {"minProperties": 2}, {"maxProperties": 1},
                                       {"minProperties": 1, "maxProperties": 2},
                                       {"patternProperties": {"^d": {"type": "integer"}}}])),
            st.builds(lambda i, lo, hi: {"type": "array", "items": i, "minItems": lo, "maxItems": lo + hi},
                      inner, st.integers(0, 2), st.integers(0, 3)),
            st.builds(lambda bs: {"anyOf": bs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda bs: {"oneOf": bs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda bs: {"allOf": bs}, st.lists(inner, min_size=1, max_size=2)),
            st.builds(lambda a, b: {"not": a, **b}, inner, inner),
        )

    return st.recursive(leaf, extend, max_leaves=6)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 50) | st.sampled_from([1.0, 2.5, -0.5, 3.0])
    | st.sampled_from(["", "a", "k", "abcd"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=4),
    max_leaves=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas(), st.lists(json_values, min_size=1, max_size=8), st.booleans())
def test_matched_instances_are_valid(schema, instances, extra_properties):
    try:
        pattern = regex.compile(to_regex(schema, extra_properties=extra_properties))
    except UnsupportedSchemaError:
        return
    validator = jsonschema.Draft202012Validator(schema)
    for instance in instances:
        if pattern.fullmatch(text(instance)):
            assert validator.is_valid(instance), (schema, instance)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_generated_texts_are_valid(data):
    schema = data.draw(schemas())
    try:
        pattern = to_regex(schema, max_depth=1, extra_properties=data.draw(st.booleans()))
    except UnsupportedSchemaError:
        return
    validator = jsonschema.Draft202012Validator(schema)
    for _ in range(3):
        sample = data.draw(st.from_regex(pattern, fullmatch=True))
        if any(0xD800 <= ord(c) <= 0xDFFF for c in sample):
            continue  # not producible from UTF-8 bytes
        assert validator.is_valid(json.loads(sample)), (schema, sample)


def test_reference_dag_is_translated_once_per_definition():
    # 30 definitions, each referencing the next two: 2**29 paths from the root, which the
    # translation used to walk one by one (refused after 200,000 steps); now each definition
    # is translated once and shared.
    from benchmarks.engine_targets import ref_dag

    schema = ref_dag(30)
    expression = to_expression(schema)
    validator = jsonschema.Draft202012Validator(schema)
    deep = {}
    for _ in range(28):
        deep = {"a": deep, "b": {}}
    for instance in [{}, {"a": {}}, {"a": {"b": {"a": {}}}, "b": {}}, deep]:
        assert validator.is_valid(instance) and expression.matches(json.dumps(instance))
    for instance in [{"a": 1}, {"a": {"b": []}}, {"a": {"b": {"a": "x"}}}]:
        assert not validator.is_valid(instance) and not expression.matches(json.dumps(instance))
