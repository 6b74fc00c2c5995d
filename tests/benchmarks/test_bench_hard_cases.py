"""The harder sample: its stress instances are what `jsonschema` says they are, and typedecode's
expressions agree; the dev-set part keeps exactly the schemas with an expression but no regex text."""

from __future__ import annotations

import json

import jsonschema
import pytest

import schema2re
from benchmarks.hard_cases import regex_text_refused, stress_cases


@pytest.mark.parametrize("case", stress_cases(), ids=lambda c: c.id)
def test_stress_instances_are_valid_and_invalid_as_labelled(case):
    validator = jsonschema.Draft202012Validator(case.source)
    assert case.valid and case.invalid
    for text in case.valid:
        assert validator.is_valid(json.loads(text)), text[:80]
    for text in case.invalid:
        assert not validator.is_valid(json.loads(text)), text[:80]
    expression = schema2re.to_expression(case.source)
    assert all(expression.matches(text) for text in case.valid)
    assert not any(expression.matches(text) for text in case.invalid)


def test_the_dev_part_keeps_schemas_without_regex_text_only(tmp_path):
    records = [
        {"id": "plain", "schema": {"type": "integer"}, "tests": []},
        {"id": "bounded-pattern", "schema": {"type": "string", "pattern": "^[a-z]*q[a-z]*$",
                                             "maxLength": 7},
         "tests": [{"data": "aqa", "valid": True}, {"data": "b", "valid": False}]},
        {"id": "unsupported", "schema": {"type": "string", "format": "no-such-format-x"},
         "tests": []},
        {"id": "huge-bound", "schema": {"type": "string", "maxLength": 200_000}, "tests": []},
        {"id": "simplified", "schema": {"type": "string", "pattern": "^a+$", "maxLength": 9},
         "tests": []},  # an intersection that simplifies to text: not refused
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    found = regex_text_refused(tmp_path, 5, seed=0)
    assert sorted(c.id for c in found) == ["bounded-pattern", "huge-bound"]
    bounded = next(c for c in found if c.id == "bounded-pattern")
    assert bounded.valid == ('"aqa"',) and bounded.invalid == ('"b"',)
    assert [c.id for c in regex_text_refused(tmp_path, 1, seed=0)] == \
        [c.id for c in regex_text_refused(tmp_path, 1, seed=0)]
    assert len(regex_text_refused(tmp_path, 1, seed=0)) == 1
