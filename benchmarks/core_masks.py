"""Decoding-core speed on the SmolLM2 tokenizer (49,152 tokens), against the RELLM way.

For each pattern: time from pattern text to the first mask (parse, expression, lazy DFA, token
index, first vectorized walk), time for the first mask of each new state met along a tokenized
match, and time for a memoized mask. Baseline, measured in the same run on the same states: RELLM's
per-step test of every vocabulary token with `regex` partial matching.

    python -m benchmarks.core_masks [--rellm-states N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import regex

from benchmarks.smollm2 import save_tokenizer
from decoding.automaton.dfa import Automaton
from decoding.automaton.hir import to_expr
from decoding.automaton.syntax import parse
from decoding.guides.guide import Guide, vocabulary_of
from decoding.tokens.index import TokenIndex
from decoding.tokens.trie import trie_of

RELLM = r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")\s*\}'
STRING = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
INTEGER = r"-?(?:0|[1-9][0-9]*)"
NUMBER = INTEGER + r"(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"


def _object(fields: list[tuple[str, str]]) -> str:
    return r"\{" + ", ?".join(f'"{k}": ?{v}' for k, v in fields) + r"\}"


def _big_object(n: int) -> tuple[str, str]:
    """A schema-shaped pattern with n typed fields, and one instance of it."""
    kinds = [(STRING, '"value {i} ü"'), (INTEGER, "{i}"), (NUMBER, "-{i}.25e3"),
             (r"(?:true|false)", "true"), (r"\[(?:" + INTEGER + r"(?:, ?" + INTEGER + r")*)?\]",
                                          "[1, 2, {i}]")]
    fields, values = [], []
    for i in range(n):
        rx, example = kinds[i % len(kinds)]
        fields.append((f"field_{i}_name", rx))
        values.append(f'"field_{i}_name": {example.format(i=i)}')
    return _object(fields), "{" + ", ".join(values) + "}"


def cases() -> list[tuple[str, str, str]]:
    action = _object([("action", STRING), ("action_input", STRING)])
    big, big_text = _big_object(170)
    return [
        ("RELLM action regex", RELLM,
         '{"action": "Final Answer", "action_input": "Annapolis is the capital of Maryland."}'),
        ("AgentAction schema regex", action,
         '{"action": "search", "action_input": "capital of Maryland 🇺🇸"}'),
        (f"{len(big) / 1000:.1f} kB object regex", big, big_text),
    ]


def _compile(pattern: str, vocabulary) -> Guide:
    automaton = Automaton(to_expr(parse(pattern)), pattern=pattern)
    return Guide(TokenIndex(automaton, vocabulary), pattern)


def _rellm_scan(pattern: regex.Pattern, prefix: str, texts: list[str]) -> int:
    return sum(pattern.fullmatch(prefix + t, partial=True) is not None for t in texts)


def run(rellm_states: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = save_tokenizer(Path(tmp))
    vocabulary = vocabulary_of(tokenizer)
    token_texts = [b.decode("utf-8", errors="replace") for b in vocabulary.token_bytes]
    # Once per process and tokenizer (kept in the disk cache across processes): the token trie
    # and the Unicode class tables read off the regex module. Timed apart from the patterns.
    t0 = time.perf_counter()
    trie_of(vocabulary)
    trie_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    parse(r"[\s\w\d]")
    classes_s = time.perf_counter() - t0
    rows = []
    for name, pattern, text in cases():
        assert regex.fullmatch(pattern, text), name
        ids = tokenizer.encode(text, add_special_tokens=False)
        t0 = time.perf_counter()
        guide = _compile(pattern, vocabulary)
        guide.allowed_tokens(guide.initial_state)
        to_first = time.perf_counter() - t0
        states, prefixes, state, done = [], [], guide.initial_state, b""
        first = []
        for t in ids:
            state = guide.advance(state, t)
            done += vocabulary.token_bytes[t]
            if not guide.index.has_entry(state):
                t0 = time.perf_counter()
                guide.allowed_tokens(state)
                first.append(time.perf_counter() - t0)
                states.append(state)
                prefixes.append(done.decode("utf-8", errors="ignore"))
        assert guide.is_accepting(state)
        memo = []
        for s in states:
            t0 = time.perf_counter()
            for _ in range(100):
                guide.allowed_tokens(s)
            memo.append((time.perf_counter() - t0) / 100)
        compiled = regex.compile(pattern)
        rellm = []
        for prefix in prefixes[:: max(1, len(prefixes) // rellm_states)][:rellm_states]:
            t0 = time.perf_counter()
            _rellm_scan(compiled, prefix, token_texts)
            rellm.append(time.perf_counter() - t0)
        rows.append({
            "pattern": name, "pattern_bytes": len(pattern), "tokens": len(ids),
            "new_states": len(first), "to_first_mask_ms": to_first * 1e3,
            "first_mask_p50_ms": statistics.median(first) * 1e3,
            "first_mask_max_ms": max(first) * 1e3,
            "memo_mask_p50_us": statistics.median(memo) * 1e6,
            "rellm_scan_p50_ms": statistics.median(rellm) * 1e3,
        })
    return {"vocab": vocabulary.size, "rows": rows, "trie_ms": trie_s * 1e3,
            "classes_ms": classes_s * 1e3}


def markdown(result: dict) -> str:
    lines = [f"Tokenizer: SmolLM2-135M-Instruct ({result['vocab']:,} tokens). Once per process "
             f"and tokenizer, not counted below: token trie {result['trie_ms']:.0f} ms, "
             f"Unicode class tables {result['classes_ms']:.0f} ms.", "",
             "| pattern | bytes | new states | text -> first mask | first mask p50 (max) "
             "| memoized mask p50 | RELLM scan p50 | RELLM / first mask |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(
            f"| {r['pattern']} | {r['pattern_bytes']:,} | {r['new_states']} "
            f"| {r['to_first_mask_ms']:.1f} ms | {r['first_mask_p50_ms']:.2f} ms "
            f"({r['first_mask_max_ms']:.1f}) | {r['memo_mask_p50_us']:.2f} us "
            f"| {r['rellm_scan_p50_ms']:.0f} ms "
            f"| {r['rellm_scan_p50_ms'] / r['first_mask_p50_ms']:.0f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rellm-states", type=int, default=5,
                        help="states per pattern timed with the RELLM scan (slow: ~0.1 s each)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    result = run(args.rellm_states)
    print(markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
