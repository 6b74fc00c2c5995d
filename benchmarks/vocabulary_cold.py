"""A new tokenizer's first `vocabulary_of` through the disk cache: the cold vocabulary tables.

    python -m benchmarks.vocabulary_cold [--model NAME] [--runs 3] [--baseline DIR]

Each run is a fresh Python process on an empty cache folder that, with the tokenizer loaded and
the imports done (not timed), calls `decoding.vocabulary_of(tokenizer)`: the stamp, the
tokenizer's key, the byte table (checked against `tokenizer.decode` on the whole vocabulary) and
the records written. Reported: CPU time of the process and wall time, per run. `--baseline DIR`
runs the same in a checkout at DIR (another version of typedecode), alternated with this one, so
that a before/after pair shares the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from decoding.hf.embedded import DEFAULT, EMBEDDED

ROOT = Path(__file__).resolve().parents[1]


# Run with `python -c` and PYTHONPATH=<checkout>, so that a baseline checkout without this
# module measures its own `decoding`.
WORKER = """
import json, sys, time
from transformers import AutoTokenizer
from decoding.guides.guide import vocabulary_of
tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
cpu, wall = time.process_time(), time.perf_counter()
vocabulary = vocabulary_of(tokenizer)
print(json.dumps({"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                  "size": vocabulary.size}))
"""


def _spawn(checkout: Path, tokenizer_dir: Path, cache: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, str(tokenizer_dir)], capture_output=True,
                         text=True, cwd=checkout,
                         env={**os.environ, "PYTHONPATH": str(checkout), "TYPEDECODE_CACHE_DIR": str(cache)})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(model: str, runs: int, baseline: Path | None) -> dict[str, list[dict]]:
    from benchmarks.smollm2 import save_tokenizer

    checkouts = {"this": ROOT} | ({"baseline": baseline} if baseline else {})
    results: dict[str, list[dict]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory(prefix="typedecode-vocab-") as tmp:
        root = Path(tmp)
        save_tokenizer(root / "tokenizer", model)
        for i in range(runs):
            for name, checkout in checkouts.items():
                results[name].append(_spawn(checkout, root / "tokenizer", root / f"cache-{name}-{i}"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT.name, choices=sorted(EMBEDDED))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another checkout of typedecode, alternated")
    args = parser.parse_args()
    results = run(args.model, args.runs, args.baseline)
    print(f"{args.model}: first vocabulary_of on an empty cache folder, fresh process per run")
    for name, rows in results.items():
        cpu = ", ".join(f"{r['cpu_s']:.2f}" for r in rows)
        wall = ", ".join(f"{r['wall_s']:.2f}" for r in rows)
        print(f"{name}: CPU s {cpu}; wall s {wall} ({rows[0]['size']} tokens)")


if __name__ == "__main__":
    main()
