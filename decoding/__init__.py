"""typedecode's decoding engine: regex -> byte-level automaton -> per-state token masks."""

from decoding.errors import (
    EmptyLanguage,
    PatternError,
    PatternSyntaxError,
    PatternTooComplex,
    TokenRejected,
    TypedecodeError,
    UnsupportedPattern,
)

__all__ = [
    "EmptyLanguage",
    "PatternError",
    "PatternSyntaxError",
    "PatternTooComplex",
    "TokenRejected",
    "TypedecodeError",
    "UnsupportedPattern",
]
