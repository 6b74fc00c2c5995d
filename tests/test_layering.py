"""The package layout is the architecture: each layer imports only the layers below it.

Layers, lowest first (a module may import its own layer and any lower one, never a higher one):
  decoding.errors -> decoding.util -> decoding.examples -> cache -> decoding.automaton -> schema2re
  -> decoding.tokens -> decoding.persist -> decoding.guides -> decoding.hf -> decoding.vllm
  -> decoding.langchain,
  decoding.cli
Every `import` statement counts, at module level or inside a function, except those under
`if TYPE_CHECKING:` (never executed). Also checked: the
automaton layer and schema2re import neither torch nor transformers, and no two modules import
each other, directly or through others.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["decoding.errors", "decoding.util", "decoding.limits", "decoding.examples", "cache",
          "decoding.automaton", "schema2re", "decoding.tokens", "decoding.persist",
          "decoding.guides", "decoding.hf", "decoding.vllm", "decoding.langchain", "decoding.cli"]
ML_STACK = {"torch", "transformers", "tokenizers", "accelerate", "gguf"}
NO_ML_STACK = ["decoding.errors", "decoding.util", "decoding.limits", "decoding.examples", "cache",
               "decoding.automaton", "schema2re"]


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("decoding", "schema2re", "cache"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Every module named by an import statement of module `name` (relative ones resolved)."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _executed(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & set(MODULES)
            found.update(submodules)
            if len(submodules) < len(node.names):  # some name is read off `base` itself
                found.add(base)
    return found


def _executed(tree: ast.AST):
    """Every node of `tree` outside `if TYPE_CHECKING:` blocks (imports for type hints only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_executed(child)])
            continue
        yield node
        yield from _executed(node)


def _layer(module: str) -> int | None:
    ranks = [i for i, layer in enumerate(LAYERS)
             if module == layer or module.startswith(layer + ".")]
    return ranks[-1] if ranks else None


def _project_imports(name: str) -> set[str]:
    return {m for m in _imports(name) if m in MODULES and m != name}


def test_every_module_belongs_to_a_layer():
    tops = {"decoding", "schema2re", "cache"}
    assert [m for m in MODULES if m not in tops and _layer(m) is None] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_imports_only_its_layer_and_lower_ones(name):
    own = _layer(name)
    if own is None:  # the packages' own __init__: the public surface, loaded lazily
        return
    upward = [m for m in _project_imports(name) if (_layer(m) or 0) > own]
    assert upward == [], f"{name} (layer {LAYERS[own]}) imports higher layers: {upward}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if _layer(m) is not None
                                        and LAYERS[_layer(m)] in NO_ML_STACK))
def test_low_layers_do_not_import_the_ml_stack(name):
    heavy = {m for m in _imports(name) if m.split(".")[0] in ML_STACK}
    assert heavy == set(), f"{name} imports {heavy}"


def test_no_import_cycles_between_modules():
    graph = {name: {m for m in _project_imports(name) if _layer(m) is not None}
             for name in MODULES if _layer(name) is not None}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_schema2re_and_the_automaton_load_without_torch():
    code = ("import sys, schema2re, decoding.automaton.syntax as s; "
            "schema2re.to_regex({'type': 'integer'}); s.parse('a+'); "
            "heavy = sorted(m for m in ('torch', 'transformers') if m in sys.modules); "
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
