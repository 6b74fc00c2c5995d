"""Typed errors raised by schema2re.

Every error is a `SchemaToRegexError` carrying the offending `keyword` (or None) and the JSON
pointer (`pointer`, "" for the root) of the schema part at fault; `str(e)` names both.
- `SchemaError`: the input is not JSON, or not a valid schema under its meta-schema.
- `UnsupportedSchemaError`: a valid schema that cannot be expressed exactly as a regex. When
  `lenient=True` would ignore the keyword instead (`ignorable`), the message ends with
  `LENIENT_HINT`, which says so and what it costs. `EmptyRangeError`, one of these, is a
  combination of keywords that no value satisfies. `SchemaTooComplex`, another, is a
  translation that would pass a resource limit (`decoding.limits`, `context.MAX_STEPS`).
All derive from `decoding.errors.TypedecodeError` (and `ValueError`), so one `except` catches
every typedecode error; a bad option of `to_regex` is a `decoding.errors.UsageError`.
`IgnoredKeywordsWarning` derives from `decoding.errors.TypedecodeWarning` (and `UserWarning`).
"""

from __future__ import annotations

from decoding.errors import TypedecodeError, TypedecodeWarning

LENIENT_HINT = ("; lenient=True (typedecode generate --lenient) ignores such keywords with a "
                "warning, and the regex may then match invalid instances (generate validates "
                "its output and raises OutputValidationError for those)")
"""What `UnsupportedSchemaError` appends for a keyword that `lenient=True` would ignore."""


class SchemaToRegexError(TypedecodeError, ValueError):
    """Base class of every error schema2re raises on purpose."""

    def __init__(self, message: str, keyword: str | None = None, pointer: str = "",
                 hint: str = ""):
        self.keyword = keyword
        self.pointer = pointer
        self.reason = message
        where = f"at {pointer!r}" if pointer else "at the schema root"
        what = f"keyword {keyword!r} " if keyword else ""
        super().__init__(f"{message} ({what}{where}){hint}")


class SchemaError(SchemaToRegexError):
    """The schema is not JSON, or is invalid under its meta-schema."""


class UnsupportedSchemaError(SchemaToRegexError):
    """A valid schema that cannot be translated into an exactly equivalent regex.

    `ignorable`: True when `lenient=True` would ignore the keyword (the message then says so).
    """

    def __init__(self, message: str, keyword: str | None = None, pointer: str = "", *,
                 ignorable: bool = False):
        self.ignorable = ignorable
        super().__init__(message, keyword, pointer, LENIENT_HINT if ignorable else "")


class EmptyRangeError(UnsupportedSchemaError):
    """No value satisfies the keywords together (an integer in (0.2, 0.8), a string of
    pattern `^abc$` and maxLength 2): the type's language is empty, not inexpressible."""


class SchemaTooComplex(UnsupportedSchemaError):
    """Translating the schema would pass a resource limit (expression nodes, translation
    steps); the keyword and pointer name the subschema being translated when it was hit."""


class IgnoredKeywordsWarning(TypedecodeWarning, UserWarning):
    """Under `lenient=True`: the keywords (and pointers) that were ignored; soundness is lost."""
