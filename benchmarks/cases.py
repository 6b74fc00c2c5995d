"""The work every engine gets: a deterministic sample of JSONSchemaBench schemas plus the RELLM
regex, each with its valid and invalid instances as token ids.

Contract:
- `sample_schemas(data_dir, count, seed)` is a pure function of the files' contents, `count` and
  `seed`: the same arguments give the same cases in the same order. It is stratified by file
  (largest-remainder shares of `count` in proportion to each file's size, at least one schema per
  non-empty file while `count` allows), drawn without replacement within each file.
- Instances are serialized compactly (`serialize`): no whitespace, keys in the instance's order,
  non-ASCII characters kept as themselves.
- `tokenize_case` encodes each instance with the tokenizer, no special tokens added; the result is
  a plain JSON-ready dict, the message a worker process receives.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "jsonschemabench-dev"

RELLM_REGEX = r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")\s*\}'


@dataclass(frozen=True)
class Case:
    """One schema (`kind == "schema"`, `source` a JSON value) or regex (`kind == "regex"`)."""

    id: str
    kind: str
    source: Any
    valid: tuple[str, ...]
    invalid: tuple[str, ...]


RELLM_CASE = Case(
    id="RELLM---action",
    kind="regex",
    source=RELLM_REGEX,
    valid=(
        '{"action": "Final Answer", "action_input": "Annapolis"}',
        '{"action": "Final Answer", "action_input": {"city": "Annapolis", "state": "MD"}}',
        '{\n  "action": "Final Answer",\n  "action_input": "It is Annapolis."\n}',
    ),
    invalid=(
        '{"action": "Search", "action_input": "capital of Maryland"}',
        '{"action": "Final Answer", "action_input": Annapolis}',
        '{"action": "Final Answer", "action_input": "Annapolis"',
    ),
)


def serialize(instance: Any) -> str:
    """The compact JSON text of an instance."""
    return json.dumps(instance, separators=(",", ":"), ensure_ascii=False)


def allocate(sizes: list[int], count: int) -> list[int]:
    """How many items to draw from each group: largest-remainder shares of `count` (capped at
    the total) proportional to `sizes`, then at least one per non-empty group while possible."""
    total = sum(sizes)
    count = min(count, total)
    if count <= 0:
        return [0] * len(sizes)
    exact = [count * size / total for size in sizes]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[:count - sum(shares)]:
        shares[i] += 1
    for i, size in enumerate(sizes):
        if size and not shares[i]:
            donor = max(range(len(sizes)), key=lambda j: (shares[j], -j))
            if shares[donor] <= 1:
                break
            shares[donor] -= 1
            shares[i] = 1
    return shares


def sample_schemas(data_dir: Path, count: int, seed: int) -> list[Case]:
    """`count` schemas drawn from the `*.jsonl` files of `data_dir` (see the module contract)."""
    files = sorted(Path(data_dir).glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *.jsonl files in {data_dir}")
    # Records are split on "\n" only: str.splitlines would also split inside JSON strings that
    # hold U+2028 or U+0085.
    lines = [[(n, line) for n, line in enumerate(f.read_text(encoding="utf-8").split("\n"), 1)
              if line.strip()] for f in files]
    cases = []
    for f, rows, share in zip(files, lines, allocate([len(r) for r in lines], count)):
        rng = random.Random(f"{seed}:{f.name}")
        for i in sorted(rng.sample(range(len(rows)), share)):
            number, text = rows[i]
            cases.append(record_case(text, f"{f}:{number}"))
    return cases


def record_case(text: str, where: str) -> Case:
    """The case of one JSONSchemaBench record (a JSON line; `where` names it in errors)."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not a JSON record ({exc})") from None
    if not isinstance(row, dict) or "schema" not in row:
        raise ValueError(f"{where}: expected an object with a 'schema' member")
    tests = row.get("tests") or []
    return Case(
        id=str(row.get("id", where)),
        kind="schema",
        source=row["schema"],
        valid=tuple(serialize(t["data"]) for t in tests if t.get("valid")),
        invalid=tuple(serialize(t["data"]) for t in tests if not t.get("valid")),
    )


def tokenize_case(case: Case, tokenizer: Any) -> dict:
    """The worker message for `case`: its fields, with instances as lists of token ids."""
    def encode(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    return {
        "id": case.id,
        "kind": case.kind,
        "source": case.source,
        "valid": [encode(t) for t in case.valid],
        "invalid": [encode(t) for t in case.invalid],
    }
