"""Engine adapters for the mask benchmark, one module per engine (interface: `engines.base`).

`load(spec)` imports an adapter by its short name (`NAMES`) or, for tests and experiments, by a
dotted module path; the module must define `ENGINE`. Peers are imported only inside the worker
process that measures them, so a missing or crashing peer never affects the others.
"""

from __future__ import annotations

import importlib

from benchmarks.engines.base import Engine

MODULES = {
    "typedecode": "benchmarks.engines.typedecode",
    "llguidance": "benchmarks.engines.llguidance",
    "xgrammar": "benchmarks.engines.xgrammar",
    "outlines-core": "benchmarks.engines.outlines_core",
    "lm-format-enforcer": "benchmarks.engines.lm_format_enforcer",
}
NAMES = tuple(MODULES)


def load(spec: str) -> Engine:
    """The `ENGINE` of the adapter named `spec` (a short name or a dotted module path)."""
    module = MODULES.get(spec)
    if module is None:
        if "." not in spec:
            raise ValueError(f"unknown engine {spec!r}: use one of {', '.join(NAMES)}")
        module = spec
    return importlib.import_module(module).ENGINE
