"""Pydantic round trip: every text the regex of a model generates parses with that model.

Texts are sampled from the regex language itself (hypothesis `from_regex`), so the check covers
what a constrained decoder could emit, not only hand-picked instances. Each model also checks
that its own compact `model_dump_json()` output matches (the canonical shape is generated).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Annotated, Literal, Optional, Union

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from schema2re import to_regex


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    zip_code: Annotated[str, Field(min_length=5, max_length=5)]
    country: Literal["FR", "DE"] = "FR"


class Person(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=20)]
    age: Annotated[int, Field(ge=0, le=130)]
    score: Annotated[float, Field(gt=0, lt=1)]
    color: Color
    address: Address
    previous: Optional[Address] = None
    tags: Annotated[list[str], Field(max_length=3)] = []
    counts: dict[str, int] = {}
    active: bool = True


class Cat(BaseModel):
    pet_type: Literal["cat"]
    lives: Annotated[int, Field(ge=1, le=9)]


class Dog(BaseModel):
    pet_type: Literal["dog"]
    good: bool


class Owner(BaseModel):
    pets: list[Annotated[Union[Cat, Dog], Field(discriminator="pet_type")]]
    favourite: Optional[Union[Cat, Dog]] = None
    pair: tuple[int, str]
    code: Annotated[str, Field(pattern=r"^[A-Z]{2}-[0-9]{3}$")]


class TreeNode(BaseModel):
    value: int
    children: list["TreeNode"] = []


class Basket(BaseModel):
    """Set fields: Pydantic de-duplicates a JSON list, so most need no `uniqueItems`."""

    model_config = ConfigDict(strict=True)  # strict still builds sets from JSON lists
    fruits: set[str]
    sizes: Annotated[frozenset[Annotated[int, Field(ge=0, le=5)]],
                     Field(min_length=1, max_length=3)]
    pair: Annotated[set[Literal[1, 2]], Field(min_length=2)]  # keeps uniqueItems: finite, exact
    nested: list[set[bool]] = []


MODELS = {
    Person: Person(name="Ann", age=30, score=0.5, color=Color.GREEN,
                   address=Address(street="Main", zip_code="12345"), tags=["x"], counts={"k": 2}),
    Owner: Owner(pets=[Cat(pet_type="cat", lives=3), Dog(pet_type="dog", good=True)],
                 pair=(1, "a"), code="AB-123"),
    TreeNode: TreeNode(value=1, children=[TreeNode(value=2, children=[TreeNode(value=3)])]),
    Address: Address(street="Rue \"A\" \\ é", zip_code="75001", country="DE"),
    Basket: Basket(fruits={"fig"}, sizes=frozenset({1, 2}), pair={1, 2}, nested=[{True}]),
}


@pytest.mark.parametrize("model", list(MODELS), ids=lambda m: m.__name__)
def test_model_dump_matches_its_regex(model):
    pattern = to_regex(model)
    dumped = MODELS[model].model_dump_json()
    assert regex.fullmatch(pattern, dumped), dumped


@pytest.mark.parametrize("model", list(MODELS), ids=lambda m: m.__name__)
def test_generated_texts_parse_with_the_model(model):
    pattern = to_regex(model, max_depth=2)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(st.from_regex(pattern, fullmatch=True))
    def round_trip(sample):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in sample):
            return  # not producible from UTF-8 bytes
        model.model_validate_json(sample)  # raises on any invalid text

    round_trip()


def test_plain_types_round_trip():
    for tp, good in ((list[int], "[1, -2]"), (Literal["a", "b"], '"b"'),
                     (Optional[Annotated[int, Field(multiple_of=5)]], "null"), (tuple[bool, ...], "[true,false]")):
        assert regex.fullmatch(to_regex(tp), good), (tp, good)


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    inner: Address
    n: int = 0


@dataclasses.dataclass
class Plain:
    x: int


def test_undeclared_fields_only_where_the_class_allows_them():
    for tp, good, extra in ((Address, '{"street":"s","zip_code":"12345"}', '{"street":"s","zip_code":"12345","x":1}'),
                            (Plain, '{"x":1}', '{"x":1,"y":2}')):
        pattern = to_regex(tp)
        assert regex.fullmatch(pattern, good)
        assert not regex.fullmatch(pattern, extra)
        assert regex.fullmatch(to_regex(tp, extra_properties=True), extra)
    pattern = to_regex(Open)  # extra="allow": extra members after the fields, not inside `inner`
    assert regex.fullmatch(pattern, '{"inner":{"street":"s","zip_code":"12345"},"n":1,"x":[1],"y":null}')
    assert not regex.fullmatch(pattern, '{"inner":{"street":"s","zip_code":"12345","x":1}}')
    assert Open.model_validate_json('{"inner":{"street":"s","zip_code":"12345"},"x":1,"x":2}').x == 2


def test_sets_drop_unique_items_only_where_deduplication_keeps_them_valid():
    from schema2re.inputs import load_schema

    fields = load_schema(Basket)["properties"]
    assert "uniqueItems" not in fields["fruits"] and "uniqueItems" not in fields["sizes"]
    assert fields["pair"]["uniqueItems"] is True
    assert "uniqueItems" not in fields["nested"]["items"]
    assert load_schema({"type": "array", "uniqueItems": True})["uniqueItems"]  # JSON: as written
    pattern = to_regex(Basket)
    text = ('{"fruits": ["fig", "fig"], "sizes": [5, 5, 5], "pair": [1, 2], '
            '"nested": [[true, true]]}')
    assert regex.fullmatch(pattern, text)
    assert Basket.model_validate_json(text).fruits == {"fig"}
    assert not regex.fullmatch(pattern, text.replace("[1, 2]", "[1, 1]"))  # a set of one


def test_a_set_whose_minimum_deduplication_could_break_keeps_unique_items():
    from pydantic import TypeAdapter, ValidationError

    from schema2re.errors import UnsupportedSchemaError

    pair = Annotated[set[str], Field(min_length=2)]
    with pytest.raises(ValidationError):  # why: ["a", "a"] is a set of one
        TypeAdapter(pair).validate_json('["a", "a"]')
    with pytest.raises(UnsupportedSchemaError, match="uniqueItems"):
        to_regex(pair)


_ITEMS = st.lists(st.sampled_from(["a", "b", "é", ""]), max_size=6)


@settings(max_examples=150, deadline=None)
@given(fruits=_ITEMS, sizes=st.lists(st.integers(0, 5), min_size=1, max_size=3),
       nested=st.lists(st.lists(st.booleans(), max_size=4), max_size=3))
def test_every_relaxed_instance_validates_as_the_model(fruits, sizes, nested):
    """Lists with repeats, where `uniqueItems` was dropped: the regex takes them and so does
    the model (the relaxed schema's instances are all valid for the type)."""
    document = {"fruits": fruits, "sizes": sizes, "pair": [1, 2], "nested": nested}
    text = json.dumps(document, ensure_ascii=False)
    assert regex.fullmatch(to_regex(Basket), text)
    basket = Basket.model_validate_json(text)
    assert basket.fruits == set(fruits) and basket.sizes == frozenset(sizes)
