"""The roots of typedecode's errors and warnings, and the decoding package's own classes.

Contract: every exception class that `decoding`, `schema2re` or `cache` raises on purpose derives
from `TypedecodeError`, and every warning class they emit from `TypedecodeWarning`, so one
`except TypedecodeError` (one `warnings.filterwarnings(..., TypedecodeWarning)`) covers them all.
A class that stands for a builtin exception or warning keeps it as a second base (`UsageError`
is a `ValueError` and a `TypeError`; the warnings are `UserWarning`s), so older `except` clauses
and filters still match. schema2re's classes live in `schema2re.errors`, the cache's in
`cache.errors`; this module imports nothing, so any layer may import it.

Every problem with a user's pattern is a `PatternError`; the subclasses say which kind.
Messages name the problem and where it is (pattern position with a caret line); a bad argument
of a public entry point is a `UsageError` naming the argument.
"""

from __future__ import annotations


class TypedecodeError(Exception):
    """Base class of every error typedecode raises on purpose."""


class TypedecodeWarning(Warning):
    """Base class of every warning typedecode emits."""


class PatternError(TypedecodeError, ValueError):
    """A pattern that cannot be turned into a guide.

    `pattern` is the pattern text and `pos` the 0-based position of the problem (or None).
    """

    def __init__(self, message: str, pattern: str | None = None, pos: int | None = None):
        self.pattern = pattern
        self.pos = pos
        self.reason = message
        super().__init__(_with_caret(message, pattern, pos))


class PatternSyntaxError(PatternError):
    """The pattern is not valid regular-expression syntax."""


class UnsupportedPattern(PatternError):
    """Valid syntax whose construct has no finite automaton (lookaround, backreference...).

    Such patterns can still be used with `engine="partial"` (`decoding.compile`, `generate`...;
    `--engine partial` on the command line).
    """

    def __init__(self, message: str, pattern: str | None = None, pos: int | None = None):
        hint = (' (engine="partial", or --engine partial on the command line, matches it with '
                'the regex module\'s partial matching)')
        super().__init__(message + hint, pattern, pos)


class EmptyLanguage(PatternError):
    """The pattern matches no string at all, so no output could ever satisfy it."""


class PatternTooComplex(PatternError):
    """The automaton for the pattern would exceed the configured state limit."""


class NoRegexText(TypedecodeError, ValueError):
    """An expression that cannot be written as `regex`-module text (intersection, complement,
    or text over the size limit); the expression itself still compiles."""


class TokenRejected(TypedecodeError, ValueError):
    """A token that the guide does not allow in the given state was passed to `advance`."""


class VocabularyError(TypedecodeError, ValueError):
    """A tokenizer or byte table that cannot be turned into a `decoding.Vocabulary`."""


class UnmappableTokensWarning(TypedecodeWarning, UserWarning):
    """Some tokens' text could not be mapped to bytes; they are treated as special (never allowed)."""


class RestoreMismatch(TypedecodeError, ValueError):
    """A restored automaton's expression, once built or derived again, disagrees with the
    restored states: the disk cache holds stale data (the message says to clear it)."""


def _with_caret(message: str, pattern: str | None, pos: int | None) -> str:
    if pattern is None or pos is None:
        return message
    # Show a window of the pattern around the position, with a caret under it.
    start = max(0, pos - 30)
    end = min(len(pattern), pos + 30)
    snippet = pattern[start:end]
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(pattern) else ""
    shown = prefix + snippet + suffix
    caret = " " * (len(prefix) + len(repr(pattern[start:pos])) - 2) + "^"
    return f"{message} at position {pos}\n  {_repr_body(shown)}\n  {caret}"


def _repr_body(text: str) -> str:
    """The text as it would appear inside repr() quotes (control characters escaped)."""
    return repr(text)[1:-1]


class UsageError(TypedecodeError, ValueError, TypeError):
    """A call with bad arguments (wrong type, out of range, conflicting options, empty batch).

    Raised before any model work; the message names the argument at fault. It is also a
    `ValueError` and a `TypeError`, what such checks raised before they were typed.
    """


class ModelLoadError(TypedecodeError):
    """A model that cannot be used: unknown folder, wrong pipeline task, tokenizer without EOS,
    missing embedded-model package, or a folder transformers cannot load."""


class GenerationError(TypedecodeError):
    """Generation ran but could not produce a valid result."""


class IncompleteGeneration(GenerationError):
    """`max_new_tokens` ran out before the output could end in a state the pattern accepts.

    `text` is the partial output and `num_tokens` the number of tokens generated, of the first
    such row. `completions` holds every row of the call in prompt order (`decoding.Completion`
    records; an incomplete row has `value` None and `finish_reason` "length"), so the other rows
    of a batch are not lost.
    """

    def __init__(self, message: str, text: str, num_tokens: int,
                 completions: tuple = ()):
        self.text = text
        self.num_tokens = num_tokens
        self.completions = completions
        super().__init__(message)


class OutputValidationError(GenerationError):
    """The generated text does not parse or validate against the requested schema.

    The guide makes this impossible unless the schema translation and the validator disagree;
    `text` is the generated output.
    """

    def __init__(self, message: str, text: str):
        self.text = text
        super().__init__(message)


class UnsupportedRequest(UsageError):
    """A vLLM structured-output request of a kind typedecode does not serve (grammar,
    json_object, structural_tag), or malformed per-request arguments (`decoding.vllm`)."""


class VllmMismatch(TypedecodeError):
    """The installed vLLM differs from the release and internals `decoding.vllm` was tested on;
    the message names each difference."""
