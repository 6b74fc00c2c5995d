"""Hostile inputs (issue 15): time and peak memory of each, every case in a fresh process.

    python -m benchmarks.hostile [--case NAME] [--timeout S] [--memory-gib G]

Each case builds one input a client of a server could send (a schema, a pattern, an expression),
then does what a server does with it: translate a schema (`schema2re.to_expression`),
`decoding.compile` the result (disk cache off) for a synthetic 32,768-token vocabulary with masks
262,144 wide (a large model's logits), take the first mask, and walk up to `WALK` tokens, at each step a random allowed token (seeded), computing each new state's mask.
The outcome is "ok" or the error's class and the start of its message; the child runs under an
address-space limit (`--memory-gib`, so a runaway build ends in MemoryError rather than in the
machine's OOM killer) and a wall-clock timeout. Peak RSS is `resource.getrusage` of the child
after the case minus before it (after imports and the vocabulary). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

WALK = 3000
WIDTH = 262_144


def _ref_bomb(levels: int = 40) -> dict:
    defs = {"d0": {"type": "string", "maxLength": 3}}
    for i in range(1, levels):
        ref = {"$ref": f"#/$defs/d{i - 1}"}
        defs[f"d{i}"] = {"type": "array", "prefixItems": [ref, dict(ref)], "items": False}
    return {"$defs": defs, "$ref": f"#/$defs/d{levels - 1}"}


def _ref_bomb_anyof(levels: int = 40) -> dict:
    defs = {"d0": {"type": "integer"}}
    for i in range(1, levels):
        ref = {"$ref": f"#/$defs/d{i - 1}"}
        defs[f"d{i}"] = {"anyOf": [{"type": "array", "items": ref}, {"not": ref}]}
    return {"$defs": defs, "$ref": f"#/$defs/d{levels - 1}"}


def _big_enum() -> dict:
    return {"enum": [f"value-{i:07d}" for i in range(700_000)]}  # ~10 MB of JSON


def _big_document() -> str:
    props = {f"property_{i:09d}": {"type": "string", "description": "x" * 40}
             for i in range(1_300_000)}
    return json.dumps({"type": "object", "properties": props})  # ~100 MB of JSON text


def _deep_json() -> str:
    return '{"not":' * 100_000 + "{}" + "}" * 100_000


def _deep_dict() -> dict:
    root: dict = {}
    node = root
    for _ in range(100_000):
        node["not"] = {}
        node = node["not"]
    return root


def _intersections() -> Any:
    from decoding.automaton import expr as x
    from decoding.automaton.hir import to_expr
    from decoding.automaton.syntax import parse

    return x.both_of([to_expr(parse(f"[ab]*{c}[ab]{{{n}}}")) for c, n in
                      (("a", 20), ("b", 21), ("a", 22), ("b", 23), ("a", 24), ("b", 25))])


CASES: dict[str, tuple[str, Callable[[], Any]]] = {
    "$ref bomb (40 levels x 2 refs, prefixItems)": ("schema", _ref_bomb),
    "$ref bomb (40 levels, anyOf items/not)": ("schema", _ref_bomb_anyof),
    "10 MB enum": ("schema", _big_enum),
    "enum of 10,000 strings (140 kB)": ("schema", lambda: {"enum": [f"value-{i:07d}"
                                                                for i in range(10_000)]}),
    "nested quantifiers a{1,1000} x 8": ("regex", lambda: "(" * 8 + "a" + "{1,1000})" * 8),
    "nested groups 10,000 deep": ("regex", lambda: "(" * 10_000 + "a" + ")" * 10_000),
    "100 MB schema document (JSON text)": ("schema", _big_document),
    "JSON nested 100,000 deep (text)": ("schema", _deep_json),
    "dict nested 100,000 deep": ("schema", _deep_dict),
    "(a|b)*a(a|b){30}": ("regex", lambda: "(a|b)*a(a|b){30}"),
    "6 intersected patterns [ab]*a[ab]{20..25}": ("expression", _intersections),
    "minLength 10**9": ("schema", lambda: {"type": "string", "minLength": 10**9}),
    "minItems 10**9": ("schema", lambda: {"type": "array", "items": {"type": "integer"},
                                          "minItems": 10**9}),
    "maxItems 10**12, nested": ("schema", lambda: {"type": "array", "maxItems": 10**12, "items": {
        "type": "array", "maxItems": 10**12, "items": {"type": "string", "maxLength": 10**12}}}),
    "multipleOf 1e-300": ("schema", lambda: {"type": "number", "multipleOf": 1e-300}),
    "uniqueItems, enum of 40": ("schema", lambda: {"type": "array", "uniqueItems": True,
                                                   "items": {"enum": list(range(40))}}),
    "oneOf, 2,000 branches": ("schema", lambda: {"oneOf": [
        {"type": "object", "properties": {f"k{i}": {"type": "integer"}}, "required": [f"k{i}"]}
        for i in range(2000)]}),
}


def _vocabulary() -> Any:
    from decoding.tokens.vocabulary import Vocabulary

    rng = random.Random(0)
    alphabet = b'ab{}[]",:0123456789-e.vlu ntrfs'
    tokens = {bytes([b]) for b in range(1, 128)}
    while len(tokens) < 32_766:
        tokens.add(bytes(rng.choice(alphabet) for _ in range(rng.randint(2, 8))))
    table = [b""] + sorted(tokens)  # id 0: EOS
    return Vocabulary.from_token_bytes(table, {0}, {0})


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(name: str) -> dict:
    import numpy as np

    import decoding
    import schema2re

    kind, make = CASES[name]
    vocabulary = _vocabulary()
    decoding.compile("x", vocabulary, cache_dir=False)  # tables and imports
    schema2re.to_expression({"type": "integer"})
    value = make()
    before = _rss()
    start = time.perf_counter()
    outcome, states = "ok", 0
    try:
        if kind == "schema":
            value = schema2re.to_expression(value)
        guide = decoding.compile(value, vocabulary, vocab_size=WIDTH, cache_dir=False)
        state, rng = guide.initial_state, random.Random(1)
        for _ in range(WALK):
            ids = guide.allowed_token_ids(state)
            if not len(ids):
                break
            state = guide.advance(state, int(ids[rng.randrange(len(ids))]))
        states = guide.automaton.num_states
        np.asarray(guide.allowed_tokens(state))
    except Exception as exc:  # noqa: BLE001 - the outcome is what is measured
        outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
    return {"seconds": time.perf_counter() - start, "rss": _rss() - before,
            "outcome": outcome, "states": states}


def _run(name: str, timeout: float, memory_gib: float) -> dict:
    limit = int(memory_gib * 2**30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        done = subprocess.run([sys.executable, "-m", "benchmarks.hostile", "--child", name],
                              capture_output=True, text=True, timeout=timeout, preexec_fn=cap,
                              check=False)
    except subprocess.TimeoutExpired:
        return {"seconds": timeout, "rss": None, "outcome": f"timeout after {timeout:.0f} s",
                "states": None}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1][:90]
        return {"seconds": None, "rss": None, "outcome": f"crash: {tail}", "states": None}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", help="run only these cases (substring)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--memory-gib", type=float, default=4.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child)))
        return
    names = [n for n in CASES if not args.case or any(c in n for c in args.case)]
    print("| input | time | peak RSS | states | outcome |\n|---|---:|---:|---:|---|")
    for name in names:
        r = _run(name, args.timeout, args.memory_gib)
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.2f} s"
        rss = "-" if r["rss"] is None else f"{r['rss'] / 2**20:,.0f} MiB"
        print(f"| {name} | {secs} | {rss} | {r['states'] or '-'} | {r['outcome']} |", flush=True)


if __name__ == "__main__":
    main()
