"""The engine issue's latency targets, each timed in a fresh process after the tokenizer tables.

    python -m benchmarks.engine_targets [--repeat N]

Cases (SmolLM2 tokenizer, disk cache off, so every figure is cold; per-process set-up, the
tokenizer's tables and the schema translator's imports, happens before the clock starts):
- `{"type": "string", "maxLength": 1000000}` through `decoding.compile(schema, tokenizer)`;
- the pattern `"(?:[^"\\\\]|\\\\.){0,32767}"`;
- a `$ref` DAG: 30 definitions, each an object whose two properties reference the next two
  definitions (unrolled as text it would be exponential).
For each: time to the first mask (compile + the initial state's mask), then the mean time of the
next 50 masks along a walk that takes, at every step, the first allowed token that does not end
the string (so the walk stays inside the long string). Prints a Markdown table; the targets are
10 ms, 10 ms and 50 ms to the first mask.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "string maxLength 1,000,000": ("schema", {"type": "string", "maxLength": 1_000_000}, 10.0),
    'pattern "(?:[^"\\\\]|\\\\.){0,32767}"': ("regex", r'"(?:[^"\\]|\\.){0,32767}"', 10.0),
    "$ref DAG, 30 definitions x 2 references": ("schema", None, 50.0),
}


def ref_dag(n: int = 30) -> dict:
    """Definitions d0..d{n-1}; d_i has properties a, b referencing d_{i+1}, d_{i+2}."""
    defs = {}
    for i in range(n):
        props = {name: {"$ref": f"#/$defs/d{j}"} for name, j in (("a", i + 1), ("b", i + 2))
                 if j < n}
        defs[f"d{i}"] = {"type": "object", "properties": props or {"x": {"type": "integer"}}}
    return {"$defs": defs, "$ref": "#/$defs/d0"}


def _child(kind: str, source, folder: str) -> dict:
    import torch
    from transformers import AutoTokenizer

    import decoding

    tokenizer = AutoTokenizer.from_pretrained(folder)
    # Per-process work, not timed: the tokenizer's tables, and the imports a first schema needs.
    decoding.compile("a", tokenizer, cache_dir=False)
    decoding.compile({"type": "boolean"}, tokenizer, cache_dir=False)
    decoding.compile(r"\w", tokenizer, cache_dir=False)  # the table of all scalars (classes)
    start = time.perf_counter()
    try:
        guide = decoding.compile(source, tokenizer, cache_dir=False)
    except decoding.TypedecodeError as exc:
        return {"refused": f"{type(exc).__name__}: {exc}"[:160],
                "first_ms": (time.perf_counter() - start) * 1000}
    state = guide.initial_state
    mask = guide.allowed_tokens(state)
    first = time.perf_counter() - start
    times = []
    quote = tokenizer.convert_tokens_to_ids('"')
    for _ in range(50):
        ids = torch.nonzero(mask).flatten().tolist()
        token = next((t for t in ids if t != quote and t not in guide.vocabulary.eos_token_ids),
                     None)
        if token is None:
            break
        state = guide.advance(state, token)
        t0 = time.perf_counter()
        mask = guide.allowed_tokens(state)
        times.append(time.perf_counter() - t0)
    return {"first_ms": first * 1000, "next_ms": statistics.mean(times) * 1000 if times else 0.0,
            "states": guide.automaton.num_states}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per case")
    args = parser.parse_args()
    from benchmarks.smollm2 import save_tokenizer

    with tempfile.TemporaryDirectory() as work:
        save_tokenizer(Path(work) / "tok")
        print("| case | first mask ms (median) | target ms | next masks ms (mean) |")
        print("|---|---|---|---|")
        for name, (kind, source, target) in CASES.items():
            source = ref_dag() if source is None else source
            runs = []
            for _ in range(args.repeat):
                code = ("import json, sys; from benchmarks.engine_targets import _child; "
                        "print(json.dumps(_child(*json.loads(sys.argv[1]))))")
                out = subprocess.run([sys.executable, "-c", code,
                                      json.dumps([kind, source, str(Path(work) / "tok")])],
                                     capture_output=True, text=True, check=True)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            first = statistics.median(r["first_ms"] for r in runs)
            if "refused" in runs[0]:
                print(f"| {name} | refused after {first:.0f} ms: {runs[0]['refused']} | "
                      f"{target:.0f} | - |")
                continue
            nxt = statistics.mean(r["next_ms"] for r in runs)
            print(f"| {name} | {first:.1f} | {target:.0f} | {nxt:.2f} |")


if __name__ == "__main__":
    main()
