"""The schema document: its dialect, meta-schema check, `$ref` resolution and validation.

`Document(root)` checks the root under the meta-schema its `$schema` names (draft 2020-12 by
default; drafts 4, 6, 7, 2019-09 and 2020-12 are supported) and raises `SchemaError` with the
JSON pointer of the offending part. Keyword meaning follows that draft: a keyword the draft's
validator does not know is an annotation; `$ref` siblings are ignored up to draft 7; `items`
may be an array (with `additionalItems`) before 2020-12; draft 4 has boolean exclusive bounds.

A `Node` is one subschema in context: its JSON value, the `referencing` resolver scoped to its
base URI, its JSON pointer (for messages), and the `$ref` targets expanded on the way to it from
the root (for bounded recursion). Nodes are immutable.

Every subschema schema2re reads has passed the meta-schema check once: the root's check covers
the subschemas at the draft's schema positions (`$defs`, `properties`, `items`, ...), and a
`$ref` target anywhere else (`#/components/x`, an unknown keyword's value) is checked when it is
first resolved. So a malformed keyword value (`required: {"a": 1}`, `type: 5`) is a `SchemaError`
naming the keyword and its pointer wherever it sits, never a failure inside the translator.

The meta-schema check accepts most schemas through `schema2re.metacheck` (the meta-schema
compiled once per dialect, never more lenient than `jsonschema`); any other schema is checked by
`jsonschema`, whose first error the `SchemaError` reports. That check reads `format: "regex"` (a `pattern`, a `patternProperties` name) as
ECMA-262, as JSON Schema does: a pattern is valid when Python's `re` compiles it or
`schema2re.ecma` parses it (`\\p{Letter}`, `\\cC`, `(?<name>..)` are ECMA only); instance
validation keeps `jsonschema`'s own format checker, and a pattern that `re` cannot compile makes
`is_valid` answer False (the safe answer).

Resolution and validation use `jsonschema` itself (with a registry that never fetches remote
documents), so `is_valid` answers exactly what the user's validator answers. A reference the
resolver cannot follow, whatever the reason, is a typed error.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema.validators import validator_for

from decoding.util import quiet_warnings
from schema2re import ecma
from schema2re.errors import SchemaError, UnsupportedSchemaError
from schema2re.inputs import escape_token
from schema2re.metacheck import conforms

_SUPPORTED = {
    jsonschema.Draft4Validator: "draft-04",
    jsonschema.Draft6Validator: "draft-06",
    jsonschema.Draft7Validator: "draft-07",
    jsonschema.Draft201909Validator: "2019-09",
    jsonschema.Draft202012Validator: "2020-12",
}
_REF_OVERRIDES = {jsonschema.Draft4Validator, jsonschema.Draft6Validator, jsonschema.Draft7Validator}
_TUPLE_ITEMS = _REF_OVERRIDES | {jsonschema.Draft201909Validator}

# Keywords that contain subschemas only as applicators: removed by `Document.stripped`.
_APPLICATORS = (
    "$ref", "$dynamicRef", "$recursiveRef", "allOf", "anyOf", "oneOf", "not", "if", "then",
    "else", "dependentSchemas", "dependencies", "unevaluatedProperties", "unevaluatedItems",
)


@dataclass(frozen=True)
class Node:
    """One subschema in context (see module doc)."""

    schema: Any
    resolver: Any
    pointer: str
    refs: tuple[int, ...] = ()
    scope: tuple[str, ...] = ()  # pointers of the in-place applicator ancestors (for unevaluated*)

    def evaluated_by(self, holder: Node) -> bool:
        """Whether this node's annotations reach `holder`'s unevaluated* (itself or in-place below it)."""
        return self is holder or holder.pointer in self.scope

    def get(self, keyword: str, default: Any = None) -> Any:
        """The keyword's value in this schema (`default` for boolean schemas or if absent)."""
        return self.schema.get(keyword, default) if isinstance(self.schema, dict) else default


def pointer_join(pointer: str, *tokens: str | int) -> str:
    """`pointer` extended by the given reference tokens."""
    return pointer + "".join("/" + escape_token(str(t)) for t in tokens)


class Document:
    """A checked schema document (see module doc)."""

    def __init__(self, root: Any):
        if isinstance(root, dict) and not isinstance(root.get("$schema", ""), str):
            raise SchemaError(f"$schema must be a string (a dialect URI), not "
                              f"{type(root['$schema']).__name__}", "$schema", "/$schema")
        cls = validator_for(root, default=jsonschema.Draft202012Validator) if isinstance(root, dict) \
            else jsonschema.Draft202012Validator
        if cls not in _SUPPORTED:
            raise UnsupportedSchemaError(
                f"the schema dialect {root.get('$schema')!r} is not supported "
                "(use draft-04, -06, -07, 2019-09 or 2020-12)", "$schema", "")
        _check(cls, root, "")
        self._cls = cls
        self.root = root
        self.draft = _SUPPORTED[cls]
        companions = set()  # keywords read by another keyword's validator
        if cls is jsonschema.Draft4Validator:
            companions |= {"exclusiveMinimum", "exclusiveMaximum"}
        if "if" in cls.VALIDATORS:
            companions |= {"then", "else"}
        if "dependentRequired" in cls.VALIDATORS:
            companions |= {"minContains", "maxContains"}
            # Not a 2019-09+ keyword, but honoured by some validators (and the optional suite):
            # enforcing it as in draft 7 can only make the output stricter.
            companions.add("dependencies")
        self.keywords = frozenset(cls.VALIDATORS) | companions
        self.ref_overrides_siblings = cls in _REF_OVERRIDES
        self.tuple_items = cls in _TUPLE_ITEMS
        self.boolean_exclusive_bounds = cls is jsonschema.Draft4Validator
        # An empty registry: meta-schemas resolve, nothing is ever fetched over the network.
        self._validator = cls(root, format_checker=cls.FORMAT_CHECKER, registry=referencing.Registry())
        self._specification = referencing.jsonschema.specification_with(
            cls.ID_OF(cls.META_SCHEMA) or "", default=referencing.jsonschema.DRAFT202012)
        # One walk of the document: where each object and array is (spelled on demand, see
        # `pointer_of`), the dynamic anchors, and whether unevaluated* keywords occur.
        self._places, self._dynamic_anchors, self.uses_scope = _survey(root)
        self._pointers: dict[int, str] = {}  # `pointer_of`'s spellings so far
        self._checked: set[int] = set()  # ids of the subschemas the meta-schema has checked
        self._add_checked(root)
        # Targets seen on a reference cycle so far (see `resolve`), and whether any node's
        # `scope` can matter (only unevaluated* keywords read it).
        self.cyclic: set[int] = set()
        # Whether a reference resolved so far could depend on the dynamic scope (see `resolve`).
        self.scope_sensitive = False

    def active(self, node: Node, keyword: str) -> bool:
        """Whether `keyword` is present in `node` and is an assertion/applicator of this draft."""
        return isinstance(node.schema, dict) and keyword in node.schema and keyword in self.keywords

    def root_node(self) -> Node:
        """The node of the whole document (counted once in its own recursion budget)."""
        return Node(self.root, self._validator._resolver, "", (id(self.root),))

    def child(self, node: Node, value: Any, *tokens: str | int, in_place: bool = False) -> Node:
        """The subschema `value` found in `node` under the path `tokens`.

        `in_place`: it applies to the same instance (allOf, anyOf, then, ...), not to a part of it.
        """
        resolver = node.resolver
        if isinstance(value, dict) and resolver is not None:
            try:
                resolver = resolver.in_subresource(self._specification.create_resource(value))
            except (AttributeError, TypeError):  # a malformed "$id"/"id": no new base URI
                pass
        scope = node.scope + (node.pointer,) if in_place else ()
        return Node(value, resolver, pointer_join(node.pointer, *tokens), node.refs, scope)

    def resolve(self, node: Node, keyword: str = "$ref") -> Node:
        """The target of `node`'s `$ref`; its `refs` record the target (for recursion bounds).

        The lookup is the validator's own (`referencing`): a `$dynamicRef` (or a reference to a
        `$dynamicAnchor`) resolves in the dynamic scope the node's resolver carries, i.e. the
        resources entered on the path from the root to the node, exactly as validation walks
        it. Such a lookup sets `scope_sensitive`, so that translations are memoized per scope.

        Raises SchemaError for a missing local (`#...`) target and UnsupportedSchemaError for a
        reference to a document that is not embedded here (remote references are not fetched).
        """
        ref = node.schema[keyword]
        where = pointer_join(node.pointer, keyword)
        if not isinstance(ref, str):
            raise SchemaError(f"{keyword} must be a string, not {type(ref).__name__}", keyword, where)
        try:
            resolved = node.resolver.lookup(ref)
        except referencing.exceptions.Unresolvable as exc:
            if ref.startswith("#"):
                raise SchemaError(f"reference {ref!r} does not resolve: {exc}", keyword, where) from None
            raise UnsupportedSchemaError(
                f"reference {ref!r} points outside the document (remote references are not fetched)",
                keyword, where) from None
        except (LookupError, ValueError, TypeError, AttributeError) as exc:
            # The resolver walked into a part of the document that is no schema (a pointer
            # segment that is not a list index, an "id" that is not a string, ...).
            raise SchemaError(f"reference {ref!r} does not resolve: {type(exc).__name__}: {exc}",
                              keyword, where) from None
        target = resolved.contents
        if keyword == "$dynamicRef" or (isinstance(target, dict) and "$dynamicAnchor" in target):
            self.scope_sensitive = True
        pointer = self.pointer_of(target, f"{where}->{ref}")
        if id(target) not in self._checked:
            _check(self._cls, target, pointer, f" (the target of {keyword} {ref!r} at {where!r})",
                   keyword)
            self._add_checked(target)
        if id(target) in node.refs:  # a cycle: every target since its last visit is on it
            last = len(node.refs) - 1 - node.refs[::-1].index(id(target))
            self.cyclic.update(node.refs[last:])
        return Node(target, resolved.resolver, pointer, node.refs + (id(target),),
                    node.scope + (node.pointer,))

    def pointer_of(self, value: Any, default: str) -> str:
        """The JSON pointer of an object or array of the document (where it was last met in
        document order), or `default` for a value from elsewhere."""
        key = id(value)
        spelled = self._pointers.get(key)
        if spelled is None:
            if key not in self._places:
                return default
            tokens = []
            while key is not None:
                key, token = self._places[key]  # type: ignore[misc]
                if key is not None:
                    tokens.append(token)
            spelled = self._pointers[id(value)] = pointer_join("", *reversed(tokens))
        return spelled

    def dynamic_is_static(self, node: Node, keyword: str, target: Node) -> bool:
        """Whether `node`'s $recursiveRef (or $dynamicRef), resolved statically to `target`, is exact.

        True when the target (inside this document) carries no matching dynamic anchor, or is
        the only schema of the document carrying one: the dynamic scope then changes nothing.
        """
        if id(target.schema) not in self._places or not isinstance(target.schema, dict):
            return False
        if keyword == "$recursiveRef":
            name, anchored = _RECURSIVE, target.schema.get("$recursiveAnchor") is True
        else:
            ref = node.schema[keyword]
            name = ref.split("#", 1)[1] if "#" in ref else ""
            anchored = target.schema.get("$dynamicAnchor") == name
        return not anchored or self._dynamic_anchors.get(name, 0) <= 1

    def is_valid(self, instance: Any, nodes: tuple[Node, ...] | list[Node], *, stripped: bool = False) -> bool:
        """Whether `instance` is valid under every node (with `stripped`, under their non-applicator parts).

        Anything that keeps the validator from answering (an unresolvable reference, runaway
        recursion, a `type` that is no type name where a `$ref` lands on a non-schema) counts as
        invalid, which is the safe answer for a generator.
        """
        for node in nodes:
            schema = self.stripped(node.schema) if stripped else node.schema
            try:
                validator = self._validator.evolve(schema=schema, _resolver=node.resolver)
                with quiet_warnings():
                    if not validator.is_valid(instance):
                        return False
            except (referencing.exceptions.Unresolvable, jsonschema.exceptions.SchemaError,
                    jsonschema.exceptions.UnknownType, RecursionError, ValueError, TypeError,
                    AttributeError, LookupError, re.error):
                return False
            except BaseException as exc:
                # A RecursionError inside `referencing`'s Rust maps (rpds) comes out as pyo3's
                # PanicException, which derives from BaseException only.
                if type(exc).__name__ != "PanicException":
                    raise
                return False
        return True

    def _add_checked(self, schema: Any) -> None:
        """Record `schema` and its subschemas at the draft's schema positions as checked."""
        stack = [schema]
        while stack:
            item = stack.pop()
            if isinstance(item, dict) and id(item) not in self._checked:
                self._checked.add(id(item))
                stack.extend(self._specification.subresources_of(item))

    @staticmethod
    def stripped(schema: Any) -> Any:
        """`schema` without its in-place applicators (a weaker schema: its own keywords only)."""
        if not isinstance(schema, dict):
            return schema
        return {k: v for k, v in schema.items() if k not in _APPLICATORS}


def _check(cls: Any, schema: Any, pointer: str, context: str = "", via: str | None = None) -> None:
    """SchemaError unless `schema` (found at `pointer`) is valid under `cls`'s meta-schema; the
    error names the innermost keyword at fault, or `via` (the keyword that led there)."""
    try:
        with quiet_warnings():
            if not conforms(cls, schema):  # the fast path; jsonschema names the error
                cls.check_schema(schema, format_checker=_meta_checker(cls))
    except jsonschema.exceptions.SchemaError as exc:
        keyword = next((str(t) for t in reversed(exc.path) if isinstance(t, str)), via)
        raise SchemaError(f"invalid schema{context}: {exc.message}", keyword,
                          pointer_join(pointer, *exc.path)) from None
    except RecursionError:
        raise SchemaError(f"the schema is nested too deeply to check{context}", pointer=pointer) from None


@functools.cache
def _meta_checker(cls: Any) -> jsonschema.FormatChecker:
    """`cls`'s format checker with "regex" read as ECMA-262 (see module doc)."""
    checker = copy.copy(cls.FORMAT_CHECKER)
    checker.checkers = {**checker.checkers, "regex": (_is_ecma_pattern, (re.error,))}
    return checker


def _is_ecma_pattern(instance: object) -> bool:
    """Whether `instance` (if a string) is a pattern Python's `re` or `schema2re.ecma` reads."""
    if not isinstance(instance, str):
        return True
    try:
        with quiet_warnings():
            re.compile(instance)
        return True
    except re.error:
        pass
    try:
        ecma.ecma_to_hir_regex(instance)
    except SchemaError:
        return False
    except UnsupportedSchemaError:  # valid ECMA that the translator refuses later, naming it
        pass
    return True


_RECURSIVE = "#recursive"  # key of `$recursiveAnchor: true` in the anchor counts (never a name)


_SCOPE_KEYWORDS = ("unevaluatedProperties", "unevaluatedItems")


def _survey(root: Any) -> tuple[dict[int, tuple[int | None, Any]], dict[str, int], bool]:
    """One walk of the document (in document order, without recursion): the place of every
    object and array (id -> (id of its parent or None, its token); a value met twice keeps its
    last place), the count of each `$dynamicAnchor` name and of `$recursiveAnchor: true`, and
    whether any object has an unevaluated* keyword."""
    places: dict[int, tuple[int | None, Any]] = {}
    anchors: dict[str, int] = {}
    uses_scope = False
    stack: list[tuple[Any, int | None, Any]] = [(root, None, None)]
    while stack:
        value, parent, token = stack.pop()
        if isinstance(value, dict):
            places[id(value)] = (parent, token)
            name = value.get("$dynamicAnchor")
            if isinstance(name, str):
                anchors[name] = anchors.get(name, 0) + 1
            if value.get("$recursiveAnchor") is True:
                anchors[_RECURSIVE] = anchors.get(_RECURSIVE, 0) + 1
            if not uses_scope and any(k in value for k in _SCOPE_KEYWORDS):
                uses_scope = True
            here = id(value)
            stack.extend((item, here, key) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            places[id(value)] = (parent, token)
            here = id(value)
            stack.extend((item, here, i) for i, item in reversed(list(enumerate(value))))
    return places, anchors, uses_scope
