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

from decoding.guide import Guide, compile, vocabulary_of  # noqa: A004 - documented name
from decoding.vocabulary import Vocabulary

__all__ = [
    "EmptyLanguage",
    "Guide",
    "Vocabulary",
    "compile",
    "vocabulary_of",
    "PatternError",
    "PatternSyntaxError",
    "PatternTooComplex",
    "TokenRejected",
    "TypedecodeError",
    "UnsupportedPattern",
]
