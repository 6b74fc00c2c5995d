"""Strings and numbers subtracted as expressions (`schema2re.leafsets`): `not` and overlapping
`oneOf` branches over pattern/length/enum string schemas and multipleOf/bounds/integer number
schemas, and several patterns on one string.

Each case is checked against `jsonschema` on every listed value: a match of an invalid value
is a false accept (a failure); the valid values listed are ones the expression must keep.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from schema2re import SchemaToRegexError, to_expression

CASES = [
    ({"type": "string", "not": {"pattern": "^a"}}, ["abc", "a", "bcd", "", "\u00e9a"]),
    ({"type": "string", "minLength": 2, "not": {"enum": ["ab", "cd"]}}, ["ab", "cd", "x", "abc", "zz"]),
    ({"type": "string", "pattern": "^[a-z]+$", "not": {"pattern": "^x", "maxLength": 3}},
     ["xab", "x", "xabc", "abc", "A"]),
    ({"oneOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "string", "maxLength": 3}]},
     ["12", "1234", "ab", "", "abcd"]),
    ({"type": "string", "not": {"$ref": "#/$defs/id"}, "$defs": {"id": {"pattern": "^id-"}}},
     ["id-1", "id", "x-id-"]),
    # The two regex readings differ on \d (Unicode digits in Python) and on `.` and `$`
    # (\r, a final \n): those strings are left out, never accepted wrongly.
    ({"type": "string", "not": {"pattern": "\\d"}}, ["a1", "\u0663", "abc"]),
    ({"type": "string", "not": {"pattern": "^a.c$"}}, ["abc", "a\rc", "abc\n", "abd"]),
    ({"type": "string", "pattern": "^[a-z]+$", "allOf": [{"pattern": "b"}, {"pattern": "c$"}]},
     ["abc", "bc", "ab", "ac", "cb"]),
    ({"type": "integer", "not": {"multipleOf": 5}}, [0, 5, -10, 3, 11, -7, 123456789012345678901]),
    ({"type": "number", "not": {"type": "integer"}}, [1, 0, 2.5, -0.125, 1e-7, 1.0000000000000002]),
    ({"type": "number", "not": {"multipleOf": 3, "minimum": 0}}, [3, 9, 4, -3, 2.5, -6]),
    ({"type": "integer", "not": {"anyOf": [{"multipleOf": 2}, {"multipleOf": 3}]}}, [2, 3, 6, 5, 7, 25]),
    ({"type": "integer", "not": {"type": "number", "minimum": 5, "multipleOf": 2}}, [10, 3, 4, 7]),
    ({"oneOf": [{"type": "integer", "multipleOf": 2}, {"type": "integer", "minimum": 10}]},
     [12, 4, 11, 3, 14]),
]
KEPT = {"bcd", "", "\u00e9a", "abc", "zz", "xabc", "1234", "ab", "x-id-", "abd", "bc",
        3, 11, -7, 2.5, -0.125, 4, 5, 7, 25, 11}


@pytest.mark.parametrize("schema,values", CASES, ids=[json.dumps(c[0])[:50] for c in CASES])
def test_subtracted_strings_agree_with_jsonschema(schema, values):
    expression = to_expression(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for value in values:
        text = json.dumps(value, ensure_ascii=False)
        valid = validator.is_valid(value)
        matched = expression.matches(text)
        assert valid or not matched, f"false accept of {text}"
        if valid and value in KEPT:
            assert matched, f"{text} is valid and should be kept"


def test_other_spellings_of_a_subtracted_value_are_not_accepted():
    expression = to_expression({"type": "string", "not": {"pattern": "^a"}})
    assert not expression.matches('"\\u0061b"')  # "ab" spelled with an escape
    assert expression.matches('"ba"')


@pytest.mark.parametrize("schema", [{"type": "string", "not": {"format": "email"}},
                                    {"type": "number", "not": {"multipleOf": 0.5}}])
def test_subsets_are_not_subtracted(schema):
    """A format's translation is a subset of the format, and a float multipleOf is read by
    float division: their complements would over-accept, so they stay refused."""
    with pytest.raises(SchemaToRegexError):
        to_expression(schema)
