"""The `decoding` package loads its public API lazily (PEP 562): importing `decoding` or
`schema2re`, or running `typedecode cache info`, loads neither torch nor transformers, while
`from decoding import ...`, attribute access, `dir()` and `__all__` behave as eager imports do.
The README's code samples use only the public API: the names the public modules export."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import decoding

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_MODULES = ("decoding", "decoding.automaton", "decoding.examples", "decoding.langchain",
                  "decoding.vllm", "schema2re", "cache")
HEAVY = "sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers'})"


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, cwd=ROOT, check=True)
    return result.stdout.strip()


def test_importing_the_packages_loads_neither_torch_nor_transformers():
    code = ("import sys, decoding, schema2re, decoding.errors\n"
            "assert sorted(schema2re.to_regex({'type': 'boolean'}).split('|')) == ['false', 'true']\n"
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
        "Completion", "ConstraintOptions", "EmptyLanguage", "ForcedTextGuide", "GenerationError",
        "GenerationOptions", "Generator", "Guide", "IncompleteGeneration", "LoadedModel",
        "ModelLoadError", "OutputValidationError", "PatternError", "PatternSyntaxError",
        "PatternTooComplex", "RegexLogitsProcessor", "TokenGuide", "TokenRejected", "Tool",
        "ToolCall", "ToolFormat",
        "TypedecodeError", "TypedecodeWarning", "UnmappableTokensWarning", "UnsupportedPattern",
        "UsageError", "Vocabulary", "VocabularyError", "compile", "generate", "resolve_model",
        "stream", "vocabulary_of"])


def test_submodules_are_attributes_and_unknown_names_raise_attribute_error():
    assert decoding.hf.models is importlib.import_module("decoding.hf.models")
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        decoding.no_such_name  # noqa: B018
    assert not hasattr(decoding, "no_such_name")


def _exported(module: str) -> set[str]:
    """`module.__all__`, read from the source when it is a literal (so an optional extra such as
    langchain-core need not be installed), else from the imported module."""
    source = Path(importlib.util.find_spec(module).origin).read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__"
                                                for t in node.targets):
            try:
                return set(ast.literal_eval(node.value))
            except ValueError:
                break
    return set(importlib.import_module(module).__all__)


def _readme_uses() -> list[tuple[str, str | None]]:
    """(module, name) for every use of typedecode in the README's Python samples: `import m`
    (name None), `from m import name` and `m.name` on an imported package."""
    readme = (ROOT / "README.md").read_text()
    uses: list[tuple[str, str | None]] = []
    for block in re.findall(r"```python\n(.*?)```", readme, re.S):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Import):
                uses += [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                uses += [(node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                uses.append((node.value.id, node.attr))
    own = ("decoding", "schema2re", "cache")
    return [(module, name) for module, name in uses if module.split(".")[0] in own]


def test_readme_samples_use_only_exported_names():
    uses = _readme_uses()
    assert ("decoding.examples", "RELLM_PROMPT") in uses and ("decoding", "compile") in uses
    for module, name in uses:
        assert module in PUBLIC_MODULES, f"the README imports the internal module {module}"
        if name is not None:
            assert name in _exported(module), f"the README uses {module}.{name}, not exported"
