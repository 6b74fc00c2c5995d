"""The `decoding` package loads its public API lazily (PEP 562): importing `decoding` or
`schema2re`, or running `typedecode cache info`, loads neither torch nor transformers, while
`from decoding import ...`, attribute access, `dir()` and `__all__` behave as eager imports do."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import decoding

ROOT = Path(__file__).resolve().parents[2]
HEAVY = "sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers'})"


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, cwd=ROOT, check=True)
    return result.stdout.strip()


def test_importing_the_packages_loads_neither_torch_nor_transformers():
    code = ("import sys, decoding, schema2re, decoding.errors\n"
            "assert schema2re.to_regex({'type': 'boolean'}) == 'true|false'\n"
            f"print({HEAVY})")
    assert _python(code) == "[]"


def test_cache_info_loads_neither_torch_nor_transformers(tmp_path):
    code = ("import sys\nfrom decoding.cli import main\n"
            f"assert main(['cache', 'info', '--cache-dir', {str(tmp_path)!r}]) == 0\n"
            f"print({HEAVY}, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, cwd=ROOT, check=True)
    assert result.stderr.strip() == "[]"


def test_a_public_name_loads_its_module_on_first_use():
    code = ("import sys, decoding\nfrom decoding import Generator\n"
            "print(Generator.__module__, 'decoding.hf.generation' in sys.modules)")
    assert _python(code) == "decoding.hf.generation True"


@pytest.mark.parametrize("name", decoding.__all__)
def test_every_public_name_is_the_object_its_module_defines(name):
    module = importlib.import_module(decoding._EXPORTS[name])
    assert getattr(decoding, name) is getattr(module, name)
    assert name in dir(decoding)


def test_all_lists_the_public_api():
    assert decoding.__all__ == sorted([
        "Completion", "EmptyLanguage", "GenerationError", "Generator", "Guide",
        "IncompleteGeneration", "ModelLoadError", "OutputValidationError", "PatternError",
        "PatternSyntaxError", "PatternTooComplex", "RegexLogitsProcessor", "TokenRejected",
        "TypedecodeError", "UnsupportedPattern", "UsageError", "Vocabulary", "compile",
        "generate", "stream", "vocabulary_of"])


def test_submodules_are_attributes_and_unknown_names_raise_attribute_error():
    assert decoding.hf.models is importlib.import_module("decoding.hf.models")
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        decoding.no_such_name  # noqa: B018
    assert not hasattr(decoding, "no_such_name")
