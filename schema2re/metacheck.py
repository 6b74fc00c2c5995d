"""Fast acceptance of a schema by its dialect's meta-schema, compiled once per dialect.

`conforms(cls, schema)` answers whether `schema` passes `cls.check_schema` (the meta-schema
check of a `jsonschema` validator class), in the common case some 30x faster than `jsonschema`,
whose meta-schema walk resolves references by URL at every level.

Contract (one-sided, so the fast path never changes an answer):
- True means `cls.check_schema(schema)` raises nothing. The meta-schema is compiled into plain
  predicates, each at least as strict as `jsonschema`'s keyword on every JSON value (`integer`
  is an `int`; `uniqueItems` compares values that `jsonschema` could deem equal as equal; `format`
  asks the same `FORMAT_CHECKER` that `check_schema` passes). Every keyword used combines its
  parts monotonically (no `not`), so a stricter part can only make the whole stricter.
- False says nothing: the caller runs `check_schema`, which names the first error. A meta-schema
  using a keyword this module does not implement, an anchor it does not resolve, or a nested
  resource is not compiled at all (`conforms` is then always False), never approximated.
- `$dynamicRef: "#meta"` (2020-12) and `$recursiveRef: "#"` (2019-09) resolve to the dialect's
  own meta-schema, the outermost resource of the dynamic scope of any meta-schema check.

Threads: the compiled predicates are immutable; a dialect compiled twice by racing threads gives
two equal predicates, one of which is kept.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from jsonschema.validators import validator_for
from jsonschema_specifications import REGISTRY

Check = Callable[[Any], bool]

# Keywords that never reject a value (annotations, identifiers, containers of definitions).
_ANNOTATIONS = frozenset({
    "$schema", "$id", "id", "title", "description", "default", "examples", "$comment",
    "$vocabulary", "$dynamicAnchor", "$recursiveAnchor", "deprecated", "$defs", "definitions",
    "readOnly", "writeOnly",
})


def conforms(cls: Any, schema: Any) -> bool:
    """Whether `schema` certainly passes `cls.check_schema` (see the module docstring)."""
    check = _compiled(cls)
    if check is None:
        return False
    try:
        return check(schema)
    except RecursionError:
        return False


@functools.cache
def _compiled(cls: Any) -> Check | None:
    """The predicate of `cls`'s meta-schema, or None where it uses what this module lacks."""
    meta = validator_for(cls.META_SCHEMA, default=cls)
    try:
        compiler = _Compiler(cls.META_SCHEMA, meta.FORMAT_CHECKER)
        return compiler.compile_ref("#", _base(cls.META_SCHEMA))
    except _Unsupported:
        return None


class _Unsupported(Exception):
    """The meta-schema uses something this module does not compile."""


def _base(resource: dict) -> str:
    return urldefrag(resource.get("$id") or resource.get("id") or "")[0]


_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _same_key(x: Any) -> Any:
    """A key equal for any two values `jsonschema` may call equal (and maybe for others too)."""
    if isinstance(x, bool) or x is None:
        return ("c", x)
    if isinstance(x, (int, float)):
        f = float(x)
        return ("n", math.inf if math.isnan(f) else f)
    if isinstance(x, str):
        return ("s", x)
    if isinstance(x, list):
        return ("l", tuple(map(_same_key, x)))
    if isinstance(x, dict):
        return ("d", frozenset((k, _same_key(v)) for k, v in x.items()))
    return ("?",)  # anything else: all alike, so a list holding two is never called unique


def _unique(x: list) -> bool:
    try:
        return len(set(map(_same_key, x))) == len(x)
    except TypeError:
        return False


class _Compiler:
    """Compiles the subschemas of one meta-schema into predicates (`compile_ref`)."""

    def __init__(self, top: dict, formats: Any):
        self._top = top
        self._top_base = _base(top)
        self._formats = formats
        self._cells: dict[tuple[str, str], list[Check]] = {}

    def compile_ref(self, ref: str, base: str) -> Check:
        uri, fragment = urldefrag(urljoin(base, ref))
        key = (uri, fragment)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = []
            resource = self._top if uri == self._top_base else self._resource(uri)
            cell.append(self._schema(_pointer(resource, fragment), uri))
        return lambda x: cell[0](x)

    def _resource(self, uri: str) -> Any:
        try:
            contents = REGISTRY[uri].contents
        except Exception:
            raise _Unsupported(uri) from None
        if _base(contents) != uri:
            raise _Unsupported(uri)
        return contents

    def _schema(self, node: Any, base: str) -> Check:
        if node is True:
            return lambda x: True
        if node is False:
            return lambda x: False
        if not isinstance(node, dict):
            raise _Unsupported("a schema that is not an object or a boolean")
        for identifier in ("$id", "id"):
            if isinstance(node.get(identifier), str) and _base(node) != base:
                raise _Unsupported("a nested resource")
        checks = [self._keyword(k, v, node, base) for k, v in node.items() if k not in _ANNOTATIONS]
        checks = [c for c in checks if c is not None]
        if not checks:
            return lambda x: True
        if len(checks) == 1:
            return checks[0]

        def every(x: Any) -> bool:
            for c in checks:
                if not c(x):
                    return False
            return True

        return every

    def _keyword(self, k: str, v: Any, node: dict, base: str) -> Check | None:
        compile_ = self._ALL.get(k)
        if compile_ is None:
            raise _Unsupported(k)
        return compile_(self, v, node, base)

    # -- one method per keyword: (value, the schema holding it, base URI) -> predicate ------

    def _type(self, v: Any, node: dict, base: str) -> Check:
        names = [v] if isinstance(v, str) else v
        if not isinstance(names, list) or not all(n in _TYPES for n in names):
            raise _Unsupported("type")
        tests = [_TYPES[n] for n in names]
        return lambda x: any(t(x) for t in tests)

    def _enum(self, v: Any, node: dict, base: str) -> Check:
        if not isinstance(v, list) or not all(isinstance(e, str) for e in v):
            raise _Unsupported("enum")
        values = frozenset(v)
        return lambda x: isinstance(x, str) and x in values

    def _properties(self, v: Any, node: dict, base: str) -> Check:
        parts = {name: self._schema(s, base) for name, s in v.items()}

        def check(x: Any) -> bool:  # walks the shorter of the schema's keys and the names
            if isinstance(x, dict):
                if len(x) < len(parts):
                    for name, item in x.items():
                        c = parts.get(name)
                        if c is not None and not c(item):
                            return False
                else:
                    for name, c in parts.items():
                        if name in x and not c(x[name]):
                            return False
            return True

        return check

    def _additional(self, v: Any, node: dict, base: str) -> Check:
        if "patternProperties" in node:
            raise _Unsupported("patternProperties")
        named = frozenset(node.get("properties", ()))
        c = self._schema(v, base)
        return lambda x: not isinstance(x, dict) or \
            all(c(item) for key, item in x.items() if key not in named)

    def _items(self, v: Any, node: dict, base: str) -> Check:
        if isinstance(v, list):
            raise _Unsupported("items as an array")
        c = self._schema(v, base)
        return lambda x: not isinstance(x, list) or all(map(c, x))

    def _property_names(self, v: Any, node: dict, base: str) -> Check:
        c = self._schema(v, base)
        return lambda x: not isinstance(x, dict) or all(map(c, x))

    def _required(self, v: Any, node: dict, base: str) -> Check:
        names = tuple(v)
        return lambda x: not isinstance(x, dict) or all(n in x for n in names)

    def _min_items(self, v: Any, node: dict, base: str) -> Check:
        return lambda x: not isinstance(x, list) or len(x) >= v

    def _unique_items(self, v: Any, node: dict, base: str) -> Check | None:
        if v is not True:
            return None
        return lambda x: not isinstance(x, list) or _unique(x)

    def _minimum(self, v: Any, node: dict, base: str) -> Check:
        if node.get("exclusiveMinimum") is True:  # draft 4: a boolean companion
            return lambda x: not _is_number(x) or x > v
        return lambda x: not _is_number(x) or x >= v

    def _exclusive_minimum(self, v: Any, node: dict, base: str) -> Check | None:
        if isinstance(v, bool):
            return None  # read by `_minimum`
        return lambda x: not _is_number(x) or x > v

    def _pattern(self, v: Any, node: dict, base: str) -> Check:
        return lambda x: not isinstance(x, str) or re.search(v, x) is not None

    def _format(self, v: Any, node: dict, base: str) -> Check:
        formats = self._formats
        return lambda x: formats.conforms(x, v)

    def _any_of(self, v: Any, node: dict, base: str) -> Check:
        parts = [self._schema(s, base) for s in v]
        return lambda x: any(c(x) for c in parts)

    def _all_of(self, v: Any, node: dict, base: str) -> Check:
        parts = [self._schema(s, base) for s in v]
        return lambda x: all(c(x) for c in parts)

    def _ref(self, v: Any, node: dict, base: str) -> Check:
        return self.compile_ref(v, base)

    def _dynamic_ref(self, v: Any, node: dict, base: str) -> Check:
        if v != "#meta" or self._top.get("$dynamicAnchor") != "meta":
            raise _Unsupported("$dynamicRef")
        return self.compile_ref("#", self._top_base)

    def _recursive_ref(self, v: Any, node: dict, base: str) -> Check:
        if v != "#" or self._top.get("$recursiveAnchor") is not True:
            raise _Unsupported("$recursiveRef")
        return self.compile_ref("#", self._top_base)

    def _dependencies(self, v: Any, node: dict, base: str) -> Check:
        parts = [(name, tuple(d) if isinstance(d, list) else self._schema(d, base))
                 for name, d in v.items()]

        def check(x: Any) -> bool:
            if isinstance(x, dict):
                for name, d in parts:
                    if name in x and not (all(n in x for n in d) if isinstance(d, tuple) else d(x)):
                        return False
            return True

        return check

    _ALL: dict[str, Callable[..., Check | None]] = {
        "type": _type, "enum": _enum, "properties": _properties,
        "additionalProperties": _additional, "items": _items, "propertyNames": _property_names,
        "required": _required, "minItems": _min_items, "uniqueItems": _unique_items,
        "minimum": _minimum, "exclusiveMinimum": _exclusive_minimum, "pattern": _pattern,
        "format": _format, "anyOf": _any_of, "allOf": _all_of, "$ref": _ref,
        "$dynamicRef": _dynamic_ref, "$recursiveRef": _recursive_ref,
        "dependencies": _dependencies,
    }


def _pointer(resource: Any, fragment: str) -> Any:
    """The value at JSON pointer `fragment` of `resource` (a plain-name anchor: unsupported)."""
    if fragment and not fragment.startswith("/"):
        raise _Unsupported(f"anchor #{fragment}")
    node = resource
    for token in fragment.split("/")[1:]:
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            raise _Unsupported(f"pointer #{fragment}")
    return node
