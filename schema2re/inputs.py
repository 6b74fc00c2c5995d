"""Turn what the user passes to `to_regex` into a JSON Schema document (a dict or a bool).

`schema_kind(schema)` is the one place that decides what a schema argument is:
- "document": a dict or bool, used as is;
- "json-text": str, bytes or bytearray holding JSON (NaN / Infinity refused);
- "python-type": a Pydantic model class, a `pydantic.TypeAdapter`, or anything else a
  `TypeAdapter` takes (`list[int]`, an `Enum`, `Literal["a", "b"]`, a dataclass, ...).
None, numbers, lists, tuples, functions and modules are none of these (`SchemaError`).

A Python type's document is its validation-mode JSON Schema (`TypeAdapter.json_schema()`), relaxed
where Pydantic's validation does not need a keyword: `uniqueItems` of a `set[...]` /
`frozenset[...]` with `minItems` of at most 1 is dropped, since Pydantic de-duplicates a JSON
list into the set and de-duplication cannot take the length under 1. The relaxed document's
instances are all valid for the type; a set with `min_length >= 2` keeps `uniqueItems` (a list
with repeats could shrink below the minimum).
Anything Pydantic cannot describe, text that is not JSON, non-finite numbers, and a document
past the `decoding.limits` on size (`schema_bytes`, of JSON text) or nesting (`schema_depth`,
objects and arrays) raise `SchemaError`; the checks never recurse.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from typing import Any, Literal

from decoding import limits
from decoding.limits import Limits
from schema2re.errors import SchemaError

SchemaKind = Literal["document", "json-text", "python-type"]


def schema_kind(schema: Any) -> SchemaKind:
    """What `schema` is (see the module doc); `SchemaError` when it is no schema at all."""
    if isinstance(schema, (dict, bool)):
        return "document"
    if isinstance(schema, (str, bytes, bytearray)):
        return "json-text"
    if schema is None or isinstance(schema, (int, float, list, tuple)) \
            or inspect.isroutine(schema) or inspect.ismodule(schema):
        raise SchemaError(f"a schema must be a JSON Schema (dict, bool or JSON text), a Pydantic "
                          f"model class or a type Pydantic can describe, not "
                          f"{type(schema).__name__}")
    return "python-type"


def load_schema(schema: Any) -> dict | bool:
    """The schema document described by `schema` (see the module doc)."""
    kind = schema_kind(schema)
    if kind == "json-text":
        return _from_json_text(schema)
    document = schema if kind == "document" else _from_python_type(schema)
    _check_json(document, limits.current())
    return document


def type_adapter(tp: Any) -> Any:
    """The `pydantic.TypeAdapter` of a "python-type" schema (itself if it is one).

    Validating a JSON text with it (`validate_json`) gives the typed value: the model instance,
    the Enum member, the list... `SchemaError` when Pydantic cannot build one.
    """
    from pydantic import TypeAdapter
    from pydantic.errors import PydanticUserError

    if isinstance(tp, TypeAdapter):
        return tp
    try:
        return TypeAdapter(tp)
    except (PydanticUserError, TypeError, ValueError, NameError, AttributeError) as exc:
        raise SchemaError(f"cannot derive a JSON Schema from {tp!r}: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _from_json_text(text: str | bytes | bytearray) -> dict | bool:
    bounds = limits.current()
    if len(text) > bounds.schema_bytes or (isinstance(text, str) and not text.isascii()
                                            and len(text.encode("utf-8", "surrogatepass"))
                                            > bounds.schema_bytes):
        raise SchemaError(_too_large(bounds))
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(f"the schema is not valid JSON: {exc}") from None
    except RecursionError:
        raise SchemaError("the schema JSON is nested too deeply") from None
    if not isinstance(value, (dict, bool)):
        raise SchemaError(f"a schema must be an object or a boolean, not JSON {type(value).__name__}")
    return value


def _from_python_type(tp: Any) -> dict:
    """The relaxed validation-mode JSON Schema of a Python type (see the module doc)."""
    from pydantic.errors import PydanticUserError

    adapter = type_adapter(tp)
    try:
        return adapter.json_schema(schema_generator=_relaxed_generator())
    except (PydanticUserError, TypeError, ValueError, NameError, AttributeError) as exc:
        raise SchemaError(f"cannot derive a JSON Schema from {tp!r}: {exc}") from None


@functools.cache
def _relaxed_generator() -> type:
    """Pydantic's JSON Schema generator without the `uniqueItems` its sets do not need."""
    from pydantic.json_schema import GenerateJsonSchema

    class RelaxedSets(GenerateJsonSchema):
        def set_schema(self, schema: Any) -> Any:
            return _without_unneeded_unique(super().set_schema(schema))

        def frozenset_schema(self, schema: Any) -> Any:
            return _without_unneeded_unique(super().frozenset_schema(schema))

    return RelaxedSets


def _without_unneeded_unique(json_schema: dict) -> dict:
    """A set's JSON Schema without `uniqueItems` when de-duplication keeps it valid."""
    if json_schema.get("minItems", 0) <= 1:
        json_schema.pop("uniqueItems", None)
    return json_schema


def _check_json(document: Any, bounds: Limits) -> None:
    """Reject what has no JSON spelling (NaN/Infinity, non-string keys, non-JSON objects) and a
    document whose JSON would pass `schema_bytes` or whose objects and arrays nest deeper than
    `schema_depth`; walked without recursion, so any nesting is safe to check. The JSON pointer
    of a value is kept as a chain of (parent chain, token) and spelled out only for an error."""
    size, stack = 0, [(document, None, 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth >= bounds.schema_depth:
                raise SchemaError(f"the schema nests objects and arrays deeper than "
                                  f"{bounds.schema_depth} levels (TYPEDECODE_MAX_SCHEMA_DEPTH)",
                                  pointer=_spelled(path))
            size += 2 + len(value)
            if isinstance(value, list):
                children = [(item, (path, i), depth + 1) for i, item in enumerate(value)]
            else:
                children = []
                for key, item in value.items():
                    if not isinstance(key, str):
                        raise SchemaError(f"object key {key!r} is not a string",
                                          pointer=_spelled(path))
                    size += len(key) + 3
                    children.append((item, (path, key), depth + 1))
            stack.extend(reversed(children))  # visited in document order
        elif isinstance(value, str):
            size += len(value) + 2
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise SchemaError(f"{value} is not a JSON number", pointer=_spelled(path))
            size += 24
        elif value is None or isinstance(value, (bool, int)):
            size += 5 if value is None or isinstance(value, bool) else 1 + value.bit_length() // 3
        else:
            raise SchemaError(f"{type(value).__name__} value {value!r} is not JSON",
                              pointer=_spelled(path))
        if size > bounds.schema_bytes:
            raise SchemaError(_too_large(bounds), pointer=_spelled(path))


def _spelled(path: tuple | None) -> str:
    """The JSON pointer of a (parent chain, token) chain (None: the root)."""
    tokens = []
    while path is not None:
        path, token = path
        tokens.append(token if isinstance(token, int) else escape_token(token))
    return "".join(f"/{t}" for t in reversed(tokens))


def _too_large(bounds: Limits) -> str:
    return (f"the schema is larger than {bounds.schema_bytes:,} bytes of JSON "
            f"(TYPEDECODE_MAX_SCHEMA_BYTES)")


def escape_token(token: str) -> str:
    """A JSON pointer reference token for `token` (`~` -> `~0`, `/` -> `~1`)."""
    return token.replace("~", "~0").replace("/", "~1")
