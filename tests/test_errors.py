"""One root for typedecode's errors and one for its warnings, and typed errors for bad arguments.

Contract checked here:
- every exception class that `decoding`, `schema2re` or `cache` export, define in an errors module
  (`decoding.errors`, `schema2re.errors`, `cache.errors`) or define anywhere under a public name
  derives from `decoding.TypedecodeError`, every warning class from `decoding.TypedecodeWarning`,
  and each such class is defined in one of the errors modules (private control-flow exceptions,
  `_Name`, are caught where they are raised and never leave their module);
- the public entry points raise `UsageError` (still a `ValueError` and a `TypeError`) naming the
  argument, never a bare builtin exception, for bad arguments.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import cache
import decoding
import schema2re
from cache import Store
from decoding import TypedecodeError, TypedecodeWarning, UsageError, Vocabulary

ROOT = Path(__file__).resolve().parents[1]
ERRORS_MODULES = ("decoding.errors", "schema2re.errors", "cache.errors")
NEEDS_EXTRA = {  # modules of an optional extra, and what they import
    "decoding.langchain": "langchain_core",
    "decoding.vllm.backend": "vllm",
    "decoding.vllm.patches": "vllm",
    "decoding.vllm.processor": "vllm",
}


def _modules() -> list[ModuleType]:
    """Every module of the three packages (those of a missing optional extra left out)."""
    found = []
    for package in (decoding, schema2re, cache):
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            extra = NEEDS_EXTRA.get(info.name)
            if extra is None or importlib.util.find_spec(extra) is not None:
                found.append(importlib.import_module(info.name))
    return found


def _public_classes() -> dict[str, type]:
    """Exported names, public module attributes and every class of the errors modules, each
    class once, by where it is defined."""
    values = [getattr(package, name) for package in (decoding, schema2re, cache)
              for name in package.__all__]
    for module in _modules():
        values += [value for name, value in vars(module).items()
                   if not name.startswith("_") or module.__name__ in ERRORS_MODULES]
    return {f"{value.__module__}.{value.__qualname__}": value for value in values
            if isinstance(value, type) and issubclass(value, BaseException | Warning)
            and value.__module__.split(".")[0] in ("decoding", "schema2re", "cache")}


PUBLIC = _public_classes()
WARNINGS = sorted(where for where, cls in PUBLIC.items() if issubclass(cls, Warning))
ERRORS = sorted(where for where in PUBLIC if where not in WARNINGS)


def test_the_walk_finds_the_known_classes():
    names = {cls.__name__ for cls in PUBLIC.values()}
    assert {"UsageError", "VocabularyError", "SchemaError", "EmptyRangeError", "CorruptEntry",
            "UnsafeEntry", "RestoreMismatch"} <= names
    assert {"CacheWarning", "UnmappableTokensWarning", "IgnoredKeywordsWarning"} <= names


@pytest.mark.parametrize("where", ERRORS)
def test_every_error_class_derives_from_the_root(where):
    cls = PUBLIC[where]
    assert issubclass(cls, TypedecodeError), f"{where} is not a TypedecodeError"
    assert cls.__module__ in ERRORS_MODULES, f"{where} is not in an errors module"


@pytest.mark.parametrize("where", WARNINGS)
def test_every_warning_class_derives_from_the_root(where):
    cls = PUBLIC[where]
    assert issubclass(cls, TypedecodeWarning), f"{where} is not a TypedecodeWarning"
    assert cls.__module__ in ERRORS_MODULES, f"{where} is not in an errors module"
    if cls is not TypedecodeWarning:  # the base they had, so existing filters still match
        assert issubclass(cls, UserWarning)


def test_usage_error_keeps_the_builtin_bases():
    assert issubclass(UsageError, ValueError) and issubclass(UsageError, TypeError)


def test_the_roots_load_without_torch():
    code = ("import sys, decoding.errors, cache.errors, schema2re.errors; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=True)
    assert done.stdout.strip() == "[]"


# -- bad arguments of the public entry points ------------------------------------------------

def _vocabulary() -> Vocabulary:
    return Vocabulary.from_token_bytes([b"", b"a", b"b"], special_ids=[0], eos_token_ids=[0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(engine="fast"), "unknown engine 'fast'"),
    (dict(engine="partial", vocab_size=2), "vocab_size"),
    (dict(vocab_size=2), "vocab_size"),
])
def test_compile_raises_usage_error(kwargs, match):
    with pytest.raises(UsageError, match=match):
        decoding.compile("a+", _vocabulary(), cache_dir=False, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(engine="fast"), "unknown engine"),
    (dict(whitespace=3), "whitespace"),
    (dict(cache_dir=3), "cache_dir"),
])
def test_generate_raises_usage_error_before_the_model_loads(monkeypatch, kwargs, match):
    import decoding.hf.generation

    monkeypatch.setattr(decoding.hf.generation, "resolve_model",
                        lambda *a, **k: pytest.fail("the model was resolved first"))
    with pytest.raises(UsageError, match=match):
        decoding.generate("hi", regex="a", **kwargs)


def test_the_logits_processor_raises_usage_error():
    with pytest.raises(UsageError, match="tokenizer="):
        decoding.RegexLogitsProcessor("a")


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_depth=-1), "max_depth"),
    (dict(max_depth="3"), "max_depth"),
    (dict(whitespace=3), "whitespace"),
    (dict(whitespace="("), "whitespace regex"),
])
def test_to_regex_raises_usage_error(kwargs, match):
    with pytest.raises(UsageError, match=match):
        schema2re.to_regex({"type": "integer"}, **kwargs)


def test_store_raises_usage_error(tmp_path):
    with pytest.raises(UsageError, match="size_limit"):
        Store(tmp_path, size_limit=0)
    with pytest.raises(UsageError, match="size_limit"):
        Store(tmp_path, size_limit="big")
    with pytest.raises(UsageError, match="cache_dir"):
        Store(3)
    store = Store(False)
    with pytest.raises(UsageError, match="cache kind"):
        store.get_bytes("../x", "k")
    with pytest.raises(UsageError, match="cache key"):
        store.get_bytes("k", 3)
    with pytest.raises(UsageError, match="bytes"):
        store.put_bytes("k", "k", "text")
    with pytest.raises(UsageError, match="None"):
        store.put_json("k", "k", None)
    with pytest.raises(UsageError, match="JSON-serializable"):
        store.put_json("k", "k", object())
    with pytest.raises(UsageError, match="numpy array"):
        store.put_arrays("k", "k", {"a": [1, 2]})
