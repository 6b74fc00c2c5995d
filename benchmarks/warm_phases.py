"""Where a warm process's first mask goes: compile + first mask per schema, phase by phase.

    python -m benchmarks.warm_phases [--schemas 20] [--model NAME] [--path core|generate]

A cold process fills a cache folder the way `benchmarks.masks`' cold run does (each case
compiled, its first mask and the masks along its instances computed; the dev sample of
`benchmarks.cases` plus the RELLM regex); then a fresh read-only process on that folder times,
per case, `decoding.compile(schema, tokenizer)` ("core") or `decoding.hf.warm.guide_for`
("generate": `make_constraint`'s pattern) and the first `fill_bitmasks`, in CPU time of the
thread (`time.thread_time_ns`). Each phase is the exclusive time of the functions named in
`PHASES` (a function's time less that of the timed functions it calls); "other" is the rest of
the case's time. The first case is left out of the medians (it pays once-per-process costs, such
as the translator's source fingerprint) and reported alone. The timers add a few us per call,
so phases sum to more than an untimed run; the untimed per-case median is measured first.

The untimed process then times every case again with the process's memos emptied (the
records read a second time: what is left is the library's work without a fresh process's first
reads). Then two more fresh processes on the same folder, writable and with the garbage collector on,
time each case as the mask benchmark's warm worker does (`benchmarks.measure.measure` through
the typedecode adapter, whose setup is done first): one walks every case's instances after its
first mask, as the benchmark does, one does not (its cases' instances removed). The differences
between the three untimed medians are what the benchmark's conditions add to the library's warm
path (a writable store, the collector, the caches the previous case's walk left).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cold_steps import Phases
from decoding.hf.embedded import DEFAULT, EMBEDDED

ROOT = Path(__file__).resolve().parents[1]

# (module, attribute, phase): functions whose exclusive CPU time makes a phase.
PHASES = [
    ("decoding.persist.cached", "cached_schema_language", "schema: key, lookup, replay"),
    ("decoding.persist.cached", "_schema_key", "schema: key, lookup, replay"),
    ("decoding.persist.cached", "_document_text", "schema: key, lookup, replay"),
    ("cache.store", "_get_settled", "store: SQLite select + value read"),
    ("cache.store", "unframe", "store: frame check (SHA-256)"),
    ("cache.store", "decode_json", "store: JSON / .npy decode"),
    ("cache.store", "decode_arrays", "store: JSON / .npy decode"),
    ("decoding.persist.snapshot", "parse", "record: snapshot check"),
    ("decoding.persist.snapshot", "_entry_table", "record: entries check"),
    ("decoding.persist.snapshot", "parse_record", "record: entries check"),
    ("decoding.persist.cached", "_saved_automaton", "automaton: made from the snapshot"),
    ("decoding.persist.cached.PersistentIndex", "restore", "automaton: made from the snapshot"),
    ("decoding.persist.cached.PersistentIndex", "__init__", "index: PersistentIndex()"),
    ("decoding.persist.cached.PersistentIndex", "_load_entry", "first mask: entry unpacked"),
    ("decoding.persist.cached.PersistentIndex", "entry_of", "first mask: entry unpacked"),
    ("decoding.guides.bitmask", "fill_bitmasks", "first mask: bitmask fill"),
]


def _resolve(path: str) -> Any:
    """A module, or a class inside one ("package.module.Class")."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)


def install(phases: Phases) -> None:
    """Wrap the `PHASES` functions in `phases`' timers (exclusive CPU time per phase)."""
    for owner_path, name, phase in PHASES:
        phases.patch(_resolve(owner_path), name, phase)


def _guide_of(case: dict, tokenizer: Any, path: str) -> Any:
    from decoding.guides.guide import compile as compile_pattern
    from decoding.hf.warm import Target, guide_for

    if path == "generate":
        return guide_for(Target(case["id"], case["kind"], case["source"]), tokenizer)
    return compile_pattern(case["source"], tokenizer)


def worker(mode: str, path: str, tokenizer_dir: str, cases_file: str) -> dict:
    """Cold: fill the cache folder. Untimed / phases: time every case (untimed also again with
    its memos emptied), or with the phase timers (a second process, so that both see a fresh
    process's first reads). Measured (-unwalked): as the mask benchmark's warm worker."""
    import gc

    from transformers import AutoTokenizer

    import schema2re  # noqa: F401 - imported before the clock starts
    from decoding.errors import TokenRejected
    from decoding.guides.guide import compile as compile_pattern
    from decoding.persist import cached as persist

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    cases = json.loads(Path(cases_file).read_text(encoding="utf-8"))
    if mode in ("measured", "measured-unwalked"):
        return _measured(tokenizer, cases, walked=mode == "measured")
    compile_pattern("a", tokenizer)  # the vocabulary table, as the mask benchmark's set-up
    if mode == "cold":
        for case in cases:
            guide = _guide_of(case, tokenizer, path)
            guide.index.entry(guide.initial_state)
            for tokens in case["valid"] + case["invalid"]:
                state = guide.initial_state
                for token in tokens:
                    try:
                        state = guide.advance(state, token)
                    except TokenRejected:
                        break
                    guide.index.entry(state)
        persist.save_all()
        return {}
    import decoding.guides.guide as guide_module
    from decoding.util import LRU

    timers = Phases()
    if mode == "phases":
        install(timers)
    gc.disable()
    per_case, phases, walks, again = [], [], 0, []
    for case in cases:
        ns, guide = _first_mask(case, tokenizer, path)
        per_case.append(ns)
        phases.append(timers.take()[0])
        walks += guide.index.walks
    if mode == "untimed":  # again, memos emptied: what a fresh process's first reads add
        guide_module._AUTOMATA = LRU(guide_module._MEMO_SIZE)
        guide_module._INDEXES = LRU(guide_module._MEMO_SIZE)
        again = [_first_mask(case, tokenizer, path)[0] for case in cases]
    return {"ids": [c["id"] for c in cases], "ns": per_case, "phases": phases, "walks": walks,
            "again": again}


def _first_mask(case: dict, tokenizer: Any, path: str) -> tuple[int, Any]:
    """The CPU time (ns) of a case's guide and first mask, and the guide."""
    from decoding.guides import bitmask

    start = time.thread_time_ns()
    guide = _guide_of(case, tokenizer, path)
    bitmask.fill_bitmasks([(guide, guide.initial_state)], bitmask.allocate(1, guide.vocab_size))
    return time.thread_time_ns() - start, guide


def _measured(tokenizer: Any, cases: list[dict], *, walked: bool) -> dict:
    """Each case's first mask as `benchmarks.masks`' warm worker measures it (`BENCH_CLOCK=cpu`),
    its instances walked after it or (`walked=False`) removed."""
    from benchmarks.engines.typedecode import ENGINE
    from benchmarks.measure import measure

    ENGINE.setup(tokenizer)
    results = [measure(ENGINE, case if walked else {**case, "valid": [], "invalid": []})
               for case in cases]
    return {"ns": [round(r["first_mask_s"] * 1e9) for r in results]}


def _spawn(mode: str, path: str, root: Path, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.warm_phases", "--worker", mode,
                          "--path", path, str(root / "tokenizer"), str(root / "cases.json")],
                         capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(count: int, model: str, path: str) -> dict:
    from benchmarks.cases import DEFAULT_DATA_DIR, RELLM_CASE, sample_schemas, tokenize_case
    from benchmarks.smollm2 import save_tokenizer

    with tempfile.TemporaryDirectory(prefix="typedecode-warm-phases-") as tmp:
        root = Path(tmp)
        tokenizer = save_tokenizer(root / "tokenizer", model)
        cases = [*sample_schemas(DEFAULT_DATA_DIR, count, 0), RELLM_CASE]
        (root / "cases.json").write_text(json.dumps([tokenize_case(c, tokenizer) for c in cases]),
                                         encoding="utf-8")
        cache = {"TYPEDECODE_CACHE_DIR": str(root / "cache")}
        _spawn("cold", path, root, cache)
        readonly = {**cache, "TYPEDECODE_CACHE_READONLY": "1"}
        measured = {**cache, "BENCH_CLOCK": "cpu"}
        return {"model": model, "path": path, "untimed": _spawn("untimed", path, root, readonly),
                "phases": _spawn("phases", path, root, readonly),
                "unwalked": _spawn("measured-unwalked", path, root, measured),
                "walked": _spawn("measured", path, root, measured)}


def markdown(result: dict) -> str:
    untimed, timed = result["untimed"], result["phases"]
    per_case = [ns / 1e3 for ns in untimed["ns"]]
    rest = timed["phases"][1:]
    names = sorted({name for spent in rest for name in spent})
    other = [(ns - sum(spent.values())) / 1e3 for ns, spent in zip(timed["ns"][1:], rest)]
    total = statistics.median(ns / 1e3 for ns in timed["ns"][1:])
    lines = [f"{len(per_case)} cases, {result['model']} tokenizer, {result['path']} path; CPU "
             "time of the thread, a fresh read-only process on a filled cache folder.", "",
             f"- compile + first mask, untimed: median {_median_us(untimed)} us "
             f"(cases 2..{len(per_case)}), first case {per_case[0]:.0f} us; entries computed: "
             f"{untimed['walks']}",
             f"- the same process again, its memos emptied: median "
             f"{_median_us({'ns': untimed['again']})} us (no first reads of the records)",
             f"- with the phase timers: median {total:.0f} us",
             "- as the mask benchmark measures it (writable store, GC on; core path): median "
             f"{_median_us(result['unwalked'])} us without walking the instances, "
             f"{_median_us(result['walked'])} us walking them after each first mask", "",
             "| phase | median us per case | mean |", "|---|---:|---:|"]
    for name in [*names, "other"]:
        values = other if name == "other" else [spent.get(name, 0) / 1e3 for spent in rest]
        lines.append(f"| {name} | {statistics.median(values):.0f} | "
                     f"{statistics.mean(values):.0f} |")
    return "\n".join(lines)


def _median_us(run: dict) -> str:
    """The median of cases 2.. of a run's per-case times, in us."""
    return f"{statistics.median(ns / 1e3 for ns in run['ns'][1:]):.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.warm_phases",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--schemas", type=int, default=20)
    parser.add_argument("--model", default=DEFAULT.name, choices=sorted(EMBEDDED))
    parser.add_argument("--path", choices=("core", "generate"), default="core")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.path, *args.files)))
        return 0
    print(markdown(run(args.schemas, args.model, args.path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
