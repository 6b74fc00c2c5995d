"""Member counts and orders of small objects, and unique items of small finite sets in any
order (`schema2re.sequence.any_order`), against `jsonschema` as the oracle on generated instances.

Hypothesis draws small object schemas (2-4 named properties of simple types, 3 with extra
members; a random `required` subset, `minProperties`/`maxProperties`, `additionalProperties`
absent, false or a schema) and instances that write a random subset of members in a random
order, with values valid or not, repeated keys, and undeclared members at the end. The
expression must never match an invalid instance (soundness) and must match every valid instance
whose named members come in schema order, whose undeclared members come last (where
`additionalProperties` allows them; they count as one member towards `minProperties` and
`maxProperties`, since their keys may repeat, and at most one is written under
`maxProperties`) and whose keys do not repeat (completeness; members are
generated in schema order on purpose: the order of a model's fields is the user's, e.g.
reasoning before the answer). For `uniqueItems` over an enum of up to 4 values, every valid
array in any order; past the bound (`MAX_ANY_ORDER` values, or trees over `MAX_ANY_ORDER_SIZE`)
the fixed order. About 10 s.
"""

from __future__ import annotations

import json

import regex
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from schema2re import to_expression, to_regex
from schema2re.errors import UnsupportedSchemaError
from schema2re.sequence import MAX_ANY_ORDER

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALUE_SCHEMAS = {
    "integer": ({"type": "integer"}, st.integers(-50, 50)),
    "string": ({"type": "string", "maxLength": 3}, st.text("ab\"", max_size=4)),
    "boolean": ({"type": "boolean"}, st.booleans()),
    "null": ({"type": "null"}, st.none()),
    "enum": ({"enum": ["x", 2, None]}, st.sampled_from(["x", 2, None, "y", 3])),
}
ANY_VALUE = st.one_of(st.integers(-5, 5), st.text("ab", max_size=2), st.booleans(), st.none())


@st.composite
def objects(draw):
    """(schema, value strategies by name)."""
    extra = draw(st.sampled_from([None, False, {"type": "integer"}]))
    # extra members are the last entry, with a large key (every key but the named ones)
    names = draw(st.lists(st.sampled_from("abcdefg"), min_size=2, max_size=3 if extra else 4, unique=True))
    kinds = [draw(st.sampled_from(sorted(VALUE_SCHEMAS))) for _ in names]
    schema: dict = {"type": "object", "properties": {n: VALUE_SCHEMAS[k][0] for n, k in zip(names, kinds)}}
    required = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    if required:
        schema["required"] = required
    if draw(st.booleans()):
        schema["minProperties"] = draw(st.integers(0, len(names)))
    if draw(st.booleans()):
        schema["maxProperties"] = draw(st.integers(1, len(names) + 1))
    if extra is not None:
        schema["additionalProperties"] = extra
    return schema, {n: VALUE_SCHEMAS[k][1] for n, k in zip(names, kinds)}


@st.composite
def object_cases(draw):
    """(schema, instance text, whether the translation must match it when valid)."""
    schema, values = draw(objects())
    names = draw(st.permutations(sorted(values)))
    members = [(n, draw(values[n])) for n in names[:draw(st.integers(0, len(names)))]]
    extras = [(k, draw(ANY_VALUE)) for k in draw(st.lists(st.sampled_from(["u", "v"]), max_size=2, unique=True))]
    repeat = draw(st.booleans()) and members
    if repeat:
        members.append((members[0][0], draw(values[members[0][0]])))
    body = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in members + extras)
    order = [n for n in values if n in dict(members)]
    in_order = [n for n, _ in members] == order
    # Undeclared members may repeat a key, so they count as one member towards
    # minProperties/maxProperties, and under maxProperties at most one is written.
    counted = len(members) + 1 >= schema.get("minProperties", 0) and \
        (len(extras) <= 1 or "maxProperties" not in schema)
    expected = in_order and not repeat and (not extras or "additionalProperties" in schema
                                            and counted)
    return schema, "{" + body + "}", expected


def _valid(schema, text: str) -> bool:
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    if isinstance(pairs, list) and len({k for k, _ in pairs}) < len(pairs):
        return False  # repeated keys: never generated, and never needed
    return Draft202012Validator(schema).is_valid(json.loads(text))


@SETTINGS
@given(object_cases())
def test_small_objects_sound_and_complete_in_schema_order(case):
    schema, text, expected = case
    try:
        expression = to_expression(schema)
    except UnsupportedSchemaError:  # no instance at all (maxProperties below the required)
        assume(False)
    matched = expression.matches(text)
    valid = _valid(schema, text)
    assert not matched or valid, f"false accept: {text} for {schema}"
    if valid and expected:
        assert matched, f"valid instance in schema order not matched: {text} for {schema}"


@SETTINGS
@given(st.lists(st.sampled_from(["a", "b", 1, 1.0, True, None, "c", 2.5]), min_size=2, max_size=4,
                unique_by=lambda v: (type(v), v)),
       st.data())
def test_unique_items_of_a_small_finite_set_in_any_order(values, data):
    schema = {"type": "array", "items": {"enum": values}, "uniqueItems": True,
              "maxItems": data.draw(st.integers(1, len(values)))}
    expression = to_expression(schema)
    pattern = regex.compile(to_regex(schema))  # the text exists (and agrees)
    for _ in range(10):
        items = data.draw(st.lists(st.sampled_from(values), max_size=len(values) + 1))
        text = json.dumps(items, separators=(",", ":"))
        valid = Draft202012Validator(schema).is_valid(items)
        assert expression.matches(text) == valid, text
        assert (pattern.fullmatch(text) is not None) == valid, text


def test_unique_items_fall_back_to_the_set_order_past_the_bound():
    many = {"type": "array", "items": {"enum": list(range(MAX_ANY_ORDER + 1))}, "uniqueItems": True}
    assert to_expression(many).matches("[0,5,8]") and not to_expression(many).matches("[5,0]")
    few = {"type": "array", "items": {"enum": list(range(4))}, "uniqueItems": True}
    text = to_regex(few)
    assert len(text) < 25_000 and regex.fullmatch(text, "[3,0,2]")
    assert not regex.fullmatch(text, "[3,0,3]")
