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

# Generation: the masked loop, the embedded default model, the logits processor.
from decoding.errors import (  # noqa: E402
    GenerationError,
    IncompleteGeneration,
    ModelLoadError,
    OutputValidationError,
    UsageError,
)
from decoding.generation import Completion, Generator, generate, stream  # noqa: E402
from decoding.processor import RegexLogitsProcessor  # noqa: E402

__all__ += [
    "Completion",
    "GenerationError",
    "Generator",
    "IncompleteGeneration",
    "ModelLoadError",
    "OutputValidationError",
    "RegexLogitsProcessor",
    "UsageError",
    "generate",
    "stream",
]
