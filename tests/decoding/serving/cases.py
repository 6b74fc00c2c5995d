"""The requests the vLLM end-to-end tests and `benchmarks/vllm_batch.py` send: regexes and JSON
Schemas of different shapes, each bounded so that a greedy completion ends well within
`MAX_TOKENS`; `check(kind, spec, text)` says whether a completion satisfies its request."""

from __future__ import annotations

import json

import jsonschema
import regex

MAX_TOKENS = 48

CASES: list[tuple[str, str, object]] = [
    ("regex", "A product code:", r"[A-Z]{3}-[0-9]{4}"),
    ("regex", "Today's date in ISO format:", r"20[0-9]{2}-(0[1-9]|1[0-2])-[0-2][0-9]"),
    ("regex", "Is the sky blue? Answer:", r"(yes|no), because [a-z ]{5,30}\."),
    ("regex", "An email address:", r"[a-z]{3,10}@[a-z]{3,8}\.(com|org)"),
    ("json", "A person as JSON:", {
        "type": "object", "required": ["name", "age"],
        "properties": {"name": {"type": "string", "maxLength": 12},
                       "age": {"type": "integer", "minimum": 0, "maximum": 120}}}),
    ("json", "A city as JSON:", {
        "type": "object", "required": ["city", "capital"],
        "properties": {"city": {"type": "string", "maxLength": 15},
                       "capital": {"type": "boolean"}}}),
    ("json", "Three small numbers as JSON:", {
        "type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 99},
        "minItems": 3, "maxItems": 3}),
    ("json", "A color as JSON:", {
        "type": "object", "required": ["color"],
        "properties": {"color": {"enum": ["red", "green", "blue"]}}}),
]


def check(kind: str, spec: object, text: str) -> bool:
    """`text` fully matches the regex `spec`, or is JSON valid against the schema `spec`."""
    if kind == "regex":
        return regex.fullmatch(str(spec), text) is not None
    try:
        jsonschema.validate(json.loads(text), spec)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True
