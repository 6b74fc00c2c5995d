"""Turn what the user passes to `to_regex` into a JSON Schema document (a dict or a bool).

Accepted: a dict or bool (used as is), JSON text (str/bytes), a Pydantic model class (its
validation-mode `model_json_schema()`), or any other Python type Pydantic can describe
(`list[int]`, `Literal["a", "b"]`, ... through a `TypeAdapter`). Anything else, text that is not
JSON, and non-finite numbers (NaN, Infinity) raise `SchemaError`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from schema2re.errors import SchemaError


def load_schema(schema: Any) -> dict | bool:
    """The schema document described by `schema` (see module doc)."""
    if isinstance(schema, (dict, bool)):
        document = schema
    elif isinstance(schema, (str, bytes, bytearray)):
        return _from_json_text(schema)
    elif schema is None or isinstance(schema, (int, float, list, tuple)):
        raise SchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}")
    else:
        document = _from_python_type(schema)
    try:
        _check_json(document, "")
    except RecursionError:
        raise SchemaError("the schema is nested too deeply") from None
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _from_json_text(text: str | bytes | bytearray) -> dict | bool:
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
    try:
        from pydantic import BaseModel, TypeAdapter
        from pydantic.errors import PydanticUserError
    except ImportError:  # pragma: no cover - pydantic is a dependency
        raise SchemaError(f"cannot derive a JSON Schema from {tp!r}: pydantic is not installed") from None
    try:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            result = tp.model_json_schema()
        else:
            result = TypeAdapter(tp).json_schema()
    except (PydanticUserError, TypeError, ValueError, NameError, AttributeError) as exc:
        raise SchemaError(f"cannot derive a JSON Schema from {tp!r}: {exc}") from None
    return result


def _check_json(value: Any, pointer: str) -> None:
    """Reject what has no JSON spelling: NaN/Infinity, non-string keys, non-JSON objects."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SchemaError(f"{value} is not a JSON number", pointer=pointer)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise SchemaError(f"object key {key!r} is not a string", pointer=pointer)
            _check_json(item, f"{pointer}/{escape_token(key)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{pointer}/{index}")
    elif not (value is None or isinstance(value, (str, int, bool))):
        raise SchemaError(f"{type(value).__name__} value {value!r} is not JSON", pointer=pointer)


def escape_token(token: str) -> str:
    """A JSON pointer reference token for `token` (`~` -> `~0`, `/` -> `~1`)."""
    return token.replace("~", "~0").replace("/", "~1")
