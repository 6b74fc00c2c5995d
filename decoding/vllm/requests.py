"""What a vLLM request asks for, as a pattern `decoding.compile` takes. No vLLM import.

`pattern_for(kind, spec)`: `kind` is "regex" (regex text), "json" (JSON Schema text; a Pydantic
model's `model_json_schema()` is one) or "choice" (a JSON list of strings: exactly one of them).
Schemas are translated by `decoding.hf.constraint.make_constraint` (memoized, disk-cached), so a
pattern the front end checked costs the engine nothing more. Any other kind, or a spec that does
not parse or translate, raises a `TypedecodeError` (`UnsupportedRequest` for the kind).

`constraint_of(extra_args)` reads the logits-processor route's per-request arguments: either
`{"typedecode": {"regex": str} | {"json_schema": dict | str}}` or one of the flat keys
`FLAT_KEYS` (str values: what `vllm_xargs` carries over HTTP). It returns (kind, spec) or None.
"""

from __future__ import annotations

import json
from typing import Any

import regex

from decoding.errors import UnsupportedRequest
from decoding.hf.constraint import make_constraint

KINDS = ("regex", "json", "choice")
FLAT_KEYS = {"typedecode_regex": "regex", "typedecode_json_schema": "json"}
_NESTED_KEYS = {"regex": "regex", "json_schema": "json"}


def pattern_for(kind: str, spec: str) -> Any:
    """The pattern for a request of `kind` with `spec` (see the module docstring)."""
    if kind == "regex":
        return make_constraint(regex=spec).pattern
    if kind == "json":
        return make_constraint(schema=_loads(spec, "a JSON Schema")).pattern
    if kind == "choice":
        choices = _loads(spec, "a list of choices")
        if not isinstance(choices, list) or not choices or not all(
                isinstance(c, str) for c in choices):
            raise UnsupportedRequest(f"choice must be a non-empty list of strings, got {spec!r}")
        return make_constraint(regex="|".join(regex.escape(c) for c in choices)).pattern
    raise UnsupportedRequest(f"typedecode serves {', '.join(KINDS)} requests, not {kind}")


def constraint_of(extra_args: dict[str, Any] | None) -> tuple[str, str] | None:
    """(kind, spec) from a request's `extra_args`, or None when it carries no typedecode key."""
    if not extra_args:
        return None
    found = [(FLAT_KEYS[key], value) for key, value in extra_args.items() if key in FLAT_KEYS]
    nested = extra_args.get("typedecode")
    if nested is not None:
        if (not isinstance(nested, dict) or len(nested) != 1
                or next(iter(nested)) not in _NESTED_KEYS):
            raise UnsupportedRequest('extra_args["typedecode"] must be {"regex": ...} or '
                                     f'{{"json_schema": ...}}, got {nested!r}')
        (key, value), = nested.items()
        found.append((_NESTED_KEYS[key], value))
    if len(found) > 1:
        raise UnsupportedRequest("a request carries one typedecode constraint, not "
                                 f"{len(found)}")
    if not found:
        return None
    kind, value = found[0]
    if kind == "json" and not isinstance(value, str):
        value = json.dumps(value)
    if not isinstance(value, str):
        raise UnsupportedRequest(f"the {kind} constraint must be text, got {type(value).__name__}")
    return kind, value


def _loads(spec: str, what: str) -> Any:
    try:
        return json.loads(spec)
    except (TypeError, ValueError) as exc:
        raise UnsupportedRequest(f"{what} must be JSON text: {exc}") from None
