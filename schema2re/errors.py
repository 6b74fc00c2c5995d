"""Typed errors raised by schema2re.

Every error is a `SchemaToRegexError` carrying the offending `keyword` (or None) and the JSON
pointer (`pointer`, "" for the root) of the schema part at fault; `str(e)` names both.
- `SchemaError`: the input is not JSON, or not a valid schema under its meta-schema.
- `UnsupportedSchemaError`: a valid schema that cannot be expressed exactly as a regex.
"""

from __future__ import annotations


class SchemaToRegexError(ValueError):
    """Base class of every error schema2re raises on purpose."""

    def __init__(self, message: str, keyword: str | None = None, pointer: str = ""):
        self.keyword = keyword
        self.pointer = pointer
        self.reason = message
        where = f"at {pointer!r}" if pointer else "at the schema root"
        what = f"keyword {keyword!r} " if keyword else ""
        super().__init__(f"{message} ({what}{where})")


class SchemaError(SchemaToRegexError):
    """The schema is not JSON, or is invalid under its meta-schema."""


class UnsupportedSchemaError(SchemaToRegexError):
    """A valid schema that cannot be translated into an exactly equivalent regex."""


class IgnoredKeywordsWarning(UserWarning):
    """Under `lenient=True`: the keywords (and pointers) that were ignored; soundness is lost."""
