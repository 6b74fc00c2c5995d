"""typedecode's decoding engine: regex -> byte-level automaton -> per-state token masks.

The public names below are loaded on first use (PEP 562): `import decoding` (and so
`import schema2re`, which uses `decoding.errors`) imports neither torch nor transformers until a
name that needs them is read. `from decoding import generate, Generator, ...`, attribute access,
`dir(decoding)` and `__all__` behave as if everything had been imported eagerly; a submodule read
as an attribute (`decoding.hf.models` after `import decoding`) is imported then too.
"""

import importlib
from typing import Any

# Public name -> the submodule that defines it.
_EXPORTS: dict[str, str] = {
    # The decoding core.
    "Guide": "decoding.guides.guide",
    "TokenGuide": "decoding.guides.protocol",
    "ForcedTextGuide": "decoding.guides.protocol",
    "compile": "decoding.guides.guide",
    "vocabulary_of": "decoding.guides.guide",
    "Vocabulary": "decoding.tokens.vocabulary",
    # Generation: the masked loop, its options, the logits processor.
    "Completion": "decoding.hf.generation",
    "Generator": "decoding.hf.generation",
    "generate": "decoding.hf.generation",
    "stream": "decoding.hf.generation",
    "RegexLogitsProcessor": "decoding.hf.processor",
    "ConstraintOptions": "decoding.hf.options",
    "GenerationOptions": "decoding.hf.options",
    # Tool calls: `generate(..., tools=[...])` returns a ToolCall.
    "Tool": "decoding.hf.tools",
    "ToolCall": "decoding.hf.tools",
    "ToolFormat": "decoding.hf.tool_calls",
    # Models: the embedded default model or a user's, as a (model, tokenizer) pair.
    "LoadedModel": "decoding.hf.models",
    "resolve_model": "decoding.hf.models",
    # Errors and warnings (one root each: TypedecodeError, TypedecodeWarning).
    "EmptyLanguage": "decoding.errors",
    "GenerationError": "decoding.errors",
    "IncompleteGeneration": "decoding.errors",
    "ModelLoadError": "decoding.errors",
    "OutputValidationError": "decoding.errors",
    "PatternError": "decoding.errors",
    "PatternSyntaxError": "decoding.errors",
    "PatternTooComplex": "decoding.errors",
    "TokenRejected": "decoding.errors",
    "TypedecodeError": "decoding.errors",
    "TypedecodeWarning": "decoding.errors",
    "UnmappableTokensWarning": "decoding.errors",
    "UnsupportedPattern": "decoding.errors",
    "UsageError": "decoding.errors",
    "VocabularyError": "decoding.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Public `name` from the submodule that defines it (kept here once read), or the submodule
    `decoding.<name>` itself; AttributeError when it is neither."""
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
