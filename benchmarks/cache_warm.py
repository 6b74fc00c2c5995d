"""Cold vs warm start through the disk cache, on the SmolLM2 tokenizer (49,152 tokens).

For each of 20 JSON Schemas (`--sample dev`: the dev set's first translatable schemas of each
category in turn; `--sample hard`: `benchmarks.hard_cases`, the stress schemas then dev schemas
without regex text), two fresh processes share one empty cache folder: the first (cold) and then
the second (warm) time the same work, from the call to the first mask, by one of two paths
(`--path`): "core", the documented core path, `decoding.compile(schema, tokenizer)` (a schema is
translated by `schema2re.to_expression`, or found in the cache without translating); "generate",
`generate`'s, `decoding.hf.constraint.make_constraint(schema=...)` with the default options and
`decoding.compile` of its pattern; in both the vocabulary table (`decoding.vocabulary_of`), then
`guide.allowed_tokens(guide.initial_state)`. Imports and loading the tokenizer are not timed.
Reported: the whole path, the path without the vocabulary table (what a process that already
has the table, e.g. a `Generator` on its second schema, pays), and in the warm process the
vocabulary's two parts: finding the table's key (the tokenizer's stamp, its record in the cache
and the token-string sample check; see `decoding.persist.cached`) and loading the table from the cache,
and, for comparison, the full tokenizer key (a hash of the tokenizer's serialization), which a
warm process no longer computes.

    python -m benchmarks.cache_warm [--schemas 20] [--sample dev|hard] [--path core|generate]
                                    [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsonschemabench-dev"
CATEGORIES = ["Github_easy", "Github_medium", "Glaiveai2K", "Handwritten", "Synthesized",
              "BFCL", "JME", "MCPspec", "Github_trivial"]


def pick_schemas(count: int, sample: str = "dev") -> list[dict]:
    """`sample` "dev": the first schemas of each category in turn that schema2re translates (dev
    set order); "hard": the harder sample's stress schemas, then dev schemas without regex text,
    `count` in all."""
    import schema2re

    if sample == "hard":
        from benchmarks.hard_cases import regex_text_refused, stress_cases

        stress = stress_cases()[:count]  # all translate (tests/benchmarks/test_bench_hard_cases.py)
        cases = stress + regex_text_refused(DATA, count - len(stress), 0)
        return [{"id": c.id, "schema": c.source} for c in cases]

    files = [open(DATA / f"{c}.jsonl", encoding="utf-8") for c in CATEGORIES]
    picked: list[dict] = []
    try:
        while len(picked) < count:
            progressed = False
            for f in files:
                for line in f:
                    record = json.loads(line)
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            schema2re.to_regex(record["schema"])
                    except Exception:  # unsupported or invalid: take the next one
                        continue
                    picked.append({"id": record["id"], "schema": record["schema"]})
                    progressed = True
                    break
                if len(picked) == count:
                    break
            if not progressed:
                break
    finally:
        for f in files:
            f.close()
    return picked


def worker(mode: str, path: str, cache: str, tokenizer_dir: str, schema_file: str) -> dict:
    """Run in a fresh process: time the call-to-first-mask path once (see module docstring)."""
    from transformers import AutoTokenizer

    import schema2re  # noqa: F401 - imported before the clock starts, like the rest
    from decoding.guides.guide import compile as compile_pattern
    from decoding.guides.guide import vocabulary_of
    from decoding.hf.constraint import make_constraint
    from decoding.persist import cached as persist

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    schema = json.loads(Path(schema_file).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    store = persist.store_for(cache)
    pattern = schema if path == "core" else make_constraint(schema=schema, cache_dir=cache).pattern
    t1 = time.perf_counter()
    vocabulary_of(tokenizer, cache_dir=cache)
    t2 = time.perf_counter()
    guide = compile_pattern(pattern, tokenizer, cache_dir=cache)
    guide.allowed_tokens(guide.initial_state)
    t3 = time.perf_counter()
    result = {"mode": mode, "total_ms": (t3 - t0) * 1e3, "vocabulary_ms": (t2 - t1) * 1e3,
              "pattern_ms": (t1 - t0 + t3 - t2) * 1e3,
              "expression_built": guide.automaton.expression_built, "walks": guide.index.walks,
              "restored": guide.index.restored}
    if mode == "warm":
        t4 = time.perf_counter()
        key = persist.stamped_key(store, persist.tokenizer_stamp(tokenizer), tokenizer)
        t5 = time.perf_counter()
        assert persist.load_vocabulary(store, key) is not None
        t6 = time.perf_counter()
        result["key_ms"] = (t5 - t4) * 1e3
        result["table_ms"] = (t6 - t5) * 1e3
        result["full_key_ms"] = _timed(lambda: persist.tokenizer_key(tokenizer))
    return result


def _timed(action) -> float:
    t0 = time.perf_counter()
    action()
    return (time.perf_counter() - t0) * 1e3


def _spawn(mode: str, path: str, cache: Path, tokenizer_dir: Path, schema_file: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.cache_warm", "--worker", mode, "--path", path,
         "--cache", str(cache),
         "--tokenizer", str(tokenizer_dir), "--schema-file", str(schema_file)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(count: int, sample: str = "dev", path: str = "core") -> dict:
    from benchmarks.smollm2 import save_tokenizer

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        save_tokenizer(root / "tokenizer")
        for i, record in enumerate(pick_schemas(count, sample)):
            schema_file = root / f"schema{i}.json"
            schema_file.write_text(json.dumps(record["schema"]), encoding="utf-8")
            cache = root / f"cache{i}"
            cold = _spawn("cold", path, cache, root / "tokenizer", schema_file)
            warm = _spawn("warm", path, cache, root / "tokenizer", schema_file)
            rows.append({"id": record["id"], "cold": cold, "warm": warm})
            print(f"{record['id']}: cold {cold['total_ms']:.0f} ms, warm {warm['total_ms']:.1f} ms",
                  file=sys.stderr)
    return {"rows": rows, "sample": sample, "path": path}


def markdown(result: dict) -> str:
    lines = [f"Sample: {result.get('sample', 'dev')}; path: {result.get('path', 'core')}.", "",
             "| schema | cold: call -> first mask | warm | cold / warm "
             "| without vocabulary: cold | warm | cold / warm | warm vocabulary: key by stamp + table "
             "| warm: expression built |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    ratios, bare, tables, keys, full_keys = [], [], [], [], []
    for r in result["rows"]:
        cold, warm = r["cold"], r["warm"]
        ratios.append(cold["total_ms"] / warm["total_ms"])
        bare.append(cold["pattern_ms"] / warm["pattern_ms"])
        tables.append(warm["table_ms"])
        keys.append(warm["key_ms"])
        full_keys.append(warm["full_key_ms"])
        lines.append(f"| {r['id']} | {cold['total_ms']:.0f} ms "
                     f"| {warm['total_ms']:.1f} ms | {ratios[-1]:.1f}x "
                     f"| {cold['pattern_ms']:.0f} ms | {warm['pattern_ms']:.1f} ms "
                     f"| {bare[-1]:.0f}x | {warm['key_ms']:.1f} + {warm['table_ms']:.1f} ms "
                     f"| {'yes' if warm['expression_built'] else 'no'} |")
    lines += ["", f"whole path, cold / warm: geometric mean "
              f"{statistics.geometric_mean(ratios):.1f}x (min {min(ratios):.1f}x, "
              f"max {max(ratios):.1f}x) over {len(ratios)} schemas",
              f"without the vocabulary table, cold / warm: geometric mean "
              f"{statistics.geometric_mean(bare):.0f}x (min {min(bare):.0f}x, "
              f"max {max(bare):.0f}x)",
              f"vocabulary table load (warm, from the cache): median "
              f"{statistics.median(tables):.1f} ms, max {max(tables):.1f} ms; key by stamp: "
              f"median {statistics.median(keys):.1f} ms, max {max(keys):.1f} ms (full tokenizer "
              f"key, not computed when warm: median {statistics.median(full_keys):.1f} ms)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schemas", type=int, default=20)
    parser.add_argument("--sample", choices=("dev", "hard"), default="dev")
    parser.add_argument("--path", choices=("core", "generate"), default="core",
                        help="core: decoding.compile(schema, tokenizer); generate: "
                             "make_constraint's pattern, as generate compiles it")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", choices=["cold", "warm"], help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", help=argparse.SUPPRESS)
    parser.add_argument("--schema-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.path, args.cache, args.tokenizer,
                                args.schema_file)))
        return
    result = run(args.schemas, args.sample, args.path)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
