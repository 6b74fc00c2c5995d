"""`schema2re.metacheck`: the compiled meta-schema check never accepts what `jsonschema` rejects,
and accepts nearly every schema `jsonschema` accepts (so the fast path is the common one).

Differential over the JSON-Schema-Test-Suite's schemas (draft 2020-12) and a sample of the
JSONSchemaBench dev set (all five dialects occur), each also mutated a few times with malformed
keyword values. About 3 s.
"""

from __future__ import annotations

import copy
import glob
import json
import random
from pathlib import Path

import jsonschema
import pytest
from jsonschema.validators import validator_for

from schema2re import metacheck
from schema2re.document import _SUPPORTED, Document
from schema2re.errors import SchemaError

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
DEV_EVERY = 25
MUTANTS = 3
_BAD_VALUES = [5, "x", -1, 1.5, [], {}, None, True, [1, 1], ["a", "a"], {"a": 5}, "(", [5],
               {"type": 5}, 2.0]
_KEYWORDS = ["type", "minLength", "required", "enum", "pattern", "items", "properties", "$ref",
             "format", "minimum", "exclusiveMinimum", "uniqueItems", "additionalProperties", "$id",
             "dependencies", "anyOf", "$defs", "propertyNames", "maxItems", "const"]


def _schemas() -> list:
    found = []
    for path in sorted(glob.glob(str(DATA / "jsonschemabench-dev" / "*.jsonl"))):
        with open(path) as f:
            found += [json.loads(line)["schema"] for i, line in enumerate(f) if i % DEV_EVERY == 0]
    for path in sorted(glob.glob(str(DATA / "json-schema-test-suite/tests/draft2020-12/*.json"))):
        with open(path) as f:
            found += [group["schema"] for group in json.load(f)]
    return found


def _mutant(schema: dict | bool, rng: random.Random) -> dict | bool:
    schema = copy.deepcopy(schema)
    objects, stack = [], [schema]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            objects.append(x)
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    if objects:
        target = rng.choice(objects)
        keys = list(target) if target and rng.random() < 0.7 else _KEYWORDS
        target[rng.choice(keys)] = rng.choice(_BAD_VALUES)
    return schema


def _dialect(schema: dict | bool) -> type | None:
    if not isinstance(schema, dict):
        return jsonschema.Draft202012Validator
    try:
        cls = validator_for(schema, default=jsonschema.Draft202012Validator)
    except Exception:
        return None
    return cls if cls in _SUPPORTED else None


def _passes(cls: type, schema: dict | bool) -> bool:
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError:
        return False
    return True


@pytest.mark.parametrize("cls", list(_SUPPORTED), ids=lambda c: c.__name__)
def test_every_supported_dialect_is_compiled(cls):
    assert metacheck._compiled(cls) is not None


@pytest.mark.skipif(not (DATA / "jsonschemabench-dev").is_dir(), reason="shared data missing")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_never_accepts_what_jsonschema_rejects():
    rng = random.Random(0)
    valid = fast = invalid = 0
    for schema in _schemas():
        for variant in [schema, *(_mutant(schema, rng) for _ in range(MUTANTS))]:
            cls = _dialect(variant)
            if cls is None:
                continue
            ok = _passes(cls, variant)
            accepted = metacheck.conforms(cls, variant)
            assert ok or not accepted, json.dumps(variant)[:400]
            valid, fast, invalid = valid + ok, fast + accepted, invalid + (not ok)
    assert invalid > 300 and valid > 500
    assert fast >= 0.98 * valid, (fast, valid)


@pytest.mark.parametrize("schema, keyword, pointer", [
    ({"properties": {"a": {"type": "strin"}}}, "type", "/properties/a/type"),
    ({"$schema": "http://json-schema.org/draft-04/schema#", "required": []}, "required", "/required"),
    ({"items": {"minLength": -1}}, "minLength", "/items/minLength"),
    ({"$schema": "http://json-schema.org/draft-04/schema#", "enum": [1, 1.0]}, "enum",
     "/enum"),
])
def test_errors_still_name_keyword_and_pointer(schema, keyword, pointer):
    assert not metacheck.conforms(_dialect(schema), schema)
    with pytest.raises(SchemaError) as info:
        Document(schema)
    assert (info.value.keyword, info.value.pointer) == (keyword, pointer)


def test_uniqueness_is_never_looser_than_jsonschema():
    cls = jsonschema.Draft4Validator  # its meta-schema asks for unique `enum` values
    for items in ([1, 1.0], [{"a": 1}, {"a": 1.0}], [[1], [1.0]], [True, 1], [False, 0, None]):
        schema = {"enum": items}
        assert metacheck.conforms(cls, schema) == _passes(cls, schema), items
    assert metacheck.conforms(cls, {"enum": [True, 1, "1", None, [1], {"a": 1}]})
