"""The harder sample (the engine issue): schemas the regex-text design could not compile, and
synthetic stress schemas, reported apart from the dev sample (`--sample hard` of
`benchmarks.masks` and `benchmarks.cache_warm`).

Contract:
- `stress_cases()`: fixed synthetic schemas, each with valid and invalid instances (checked
  against `jsonschema` by the tests): long bounded strings (`maxLength` 32,767 and 1,000,000),
  `pattern` with length bounds (an intersection), a `$ref` DAG of 30 definitions (exponential as
  text), a wide object (120 properties), overlapping `oneOf`, `not`, an anchored lookahead in a
  `pattern`, a bounded array of 1,000 items, a recursive tree.
- `regex_text_refused(data_dir, count, seed)`: up to `count` dev-set schemas that
  `schema2re.to_expression` translates but whose regex text cannot exist (it would pass
  `schema2re.rx.MAX_CHARS`, or needs intersection, complement or a bound too large for text):
  what the regex-text design refused. Files are scanned in a seeded order (a pure function of the
  files, `count` and `seed`), stopping once `count` are found; each keeps its own instances.
- `hard_sample(data_dir, count, seed)`: the stress cases, then `count` refused dev schemas.
"""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path
from typing import Any

from benchmarks.cases import Case, record_case, serialize
from benchmarks.engine_targets import ref_dag


def _stress(name: str, schema: Any, valid: list[Any], invalid: list[Any]) -> Case:
    return Case(f"stress---{name}", "schema", schema, tuple(serialize(v) for v in valid),
                tuple(serialize(v) for v in invalid))


def _wide_object(n: int = 120) -> tuple[dict, dict, dict]:
    """(schema, a valid instance, an instance missing a required property)."""
    kinds = [{"type": "string", "maxLength": 40}, {"type": "integer"}, {"type": "boolean"},
             {"type": "number"}, {"enum": ["low", "mid", "high"]}]
    samples = ["text", 42, True, 2.5, "mid"]
    names = [f"p{i:03d}" for i in range(n)]
    schema = {"type": "object", "additionalProperties": False, "required": names[:10],
              "properties": {name: kinds[i % len(kinds)] for i, name in enumerate(names)}}
    valid = {name: samples[i % len(samples)] for i, name in enumerate(names[:14])}
    missing = {name: samples[i % len(samples)] for i, name in enumerate(names[1:12], 1)}
    return schema, valid, missing


def stress_cases() -> list[Case]:
    """The synthetic stress schemas (see the module contract)."""
    prose = "Long text with \"quotes\", a \\ backslash and unicode é. " * 40
    tree = {"$defs": {"node": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
        "$ref": "#/$defs/node"}
    wide, wide_valid, wide_missing = _wide_object()
    return [
        _stress("string-maxLength-32767", {"type": "string", "maxLength": 32767},
                [prose, ""], ["a" * 32768, 7]),
        _stress("string-maxLength-1000000", {"type": "string", "maxLength": 1_000_000},
                [prose * 3, "x"], [None, ["x"]]),
        _stress("pattern-with-lengths", {"type": "string", "pattern": "^[a-z][a-z0-9_]*$",
                                         "minLength": 3, "maxLength": 40},
                ["user_name42", "abc"], ["ab", "Abc", "a" * 41]),
        _stress("ref-dag-30", ref_dag(30), [{"a": {"a": {"b": {}}}, "b": {}}, {}],
                [{"a": 1}, {"a": {"b": "x"}}]),
        _stress("wide-object-120", wide, [wide_valid], [wide_missing, {**wide_valid, "p000": 1}]),
        _stress("oneOf-overlapping", {"oneOf": [{"type": "string", "maxLength": 4},
                                                {"type": "string", "minLength": 3}]},
                ["ab", "abcdef"], ["abc", 5]),
        _stress("not-enum", {"type": "string", "not": {"enum": ["admin", "root"]}},
                ["alice", "admins", ""], ["admin", "root"]),
        _stress("lookahead-pattern", {"type": "string", "pattern": "^(?!@@)[\\w@]+$"},
                ["a@b", "@x"], ["@@x", "a b"]),
        _stress("bounded-array-1000", {"type": "array", "maxItems": 1000, "items": {
            "type": "integer", "minimum": 0, "maximum": 9999}},
                [list(range(0, 500, 7)), []], [[-1], [1] * 1001]),
        _stress("recursive-tree", tree,
                [{"name": "r", "children": [{"name": "a"}, {"name": "b", "children": []}]}],
                [{"children": []}, {"name": 1}]),
    ]


def regex_text_refused(data_dir: Path, count: int, seed: int) -> list[Case]:
    """Dev-set schemas with an expression but no regex text (see the module contract)."""
    import schema2re
    from decoding.automaton.render import to_text
    from decoding.errors import NoRegexText, TypedecodeError
    from schema2re.rx import MAX_CHARS

    rows = []
    for f in sorted(Path(data_dir).glob("*.jsonl")):
        rows += [(f, n, line) for n, line in
                 enumerate(f.read_text(encoding="utf-8").split("\n"), 1) if line.strip()]
    random.Random(f"hard:{seed}").shuffle(rows)
    found = []
    for f, number, line in rows:
        if len(found) == count:
            break
        case = record_case(line, f"{f}:{number}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                expression = schema2re.to_expression(case.source)
            except TypedecodeError:
                continue  # not translated at all: not a case the new design compiles
        try:
            to_text(expression, MAX_CHARS)
        except NoRegexText:
            found.append(case)
    return found


def hard_sample(data_dir: Path, count: int, seed: int) -> list[Case]:
    """The stress cases, then `count` dev schemas the regex-text design refused."""
    return [*stress_cases(), *regex_text_refused(data_dir, count, seed)]


if __name__ == "__main__":  # list the sample: python -m benchmarks.hard_cases [count] [seed]
    import sys

    from benchmarks.cases import DEFAULT_DATA_DIR

    for case in hard_sample(DEFAULT_DATA_DIR, *(int(a) for a in sys.argv[1:3] or (20, 0))):
        print(json.dumps({"id": case.id, "valid": len(case.valid), "invalid": len(case.invalid)}))
