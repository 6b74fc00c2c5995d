"""Fuzz inputs for typedecode's three untrusted-text entry points, and the calls that feed them.

Contract:
- Every generator is a pure function of a `random.Random` (and, for schemas, of the seed corpus
  handed in): the same seed gives the same input, so a finding is replayed from its seed.
  `tests/fuzz/test_fuzz_entry_points.py` draws the seeds with hypothesis; `benchmarks/fuzz.py`
  walks them in a loop.
- Inputs are plain picklable values: pattern text; a JSON-like value (a schema, possibly
  malformed); a `GuideCase` (pattern, engine, token operations).
- `run_regex`, `run_schema` and `run_guide` call the public entry points on one input and return
  normally or raise whatever they raise; the contract under test is that this is a result or a
  `decoding.errors.TypedecodeError`, within bounded time.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ContextManager

import numpy as np

from benchmarks.cases import DEFAULT_DATA_DIR

# Pieces of regex syntax, valid and broken, including what the automaton refuses.
REGEX_PIECES = (
    "a", "b", "z", "0", "9", "é", "日", "😀", " ", "-", "_", "\n", "\x00", "\ud800", "\udfff",
    ".", "^", "$", "|", "(", ")", "[", "]", "{", "}", "*", "+", "?", "\\", "#", "&", "~",
    "*?", "+?", "??", "*+", "++", "?+", "{2}", "{0,3}", "{2,}", "{,2}", "{3,1}", "{}", "{,}",
    "{99999}", "{100001}", "{4294967295}", "{0,4294967296}", "{1}{1}", "{2}*",
    "(?:", "(?P<n>", "(?P=n)", "(?<n>", "\\g<n>", "\\1", "\\2", "\\0", "\\777", "\\8",
    "(?=", "(?!", "(?<=", "(?<!", "(?>", "(?|", "(?(1)a|b)", "(?#c)", "(?R)", "(?1)", "(?&n)",
    "(?i)", "(?s)", "(?x)", "(?m)", "(?a)", "(?u)", "(?L)", "(?f)", "(?w)", "(?V1)", "(?V0)",
    "(?r)", "(?b)", "(?e)", "(?p)", "(?-i:", "(?i:", "(?s-i:", "(?x:", "(?ia)", "(?-x)",
    "\\d", "\\D", "\\w", "\\W", "\\s", "\\S", "\\b", "\\B", "\\A", "\\Z", "\\z", "\\G", "\\K",
    "\\X", "\\R", "\\N{LATIN SMALL LETTER A}", "\\N{NOPE}", "\\p{L}", "\\p{Greek}", "\\P{Lu}",
    "\\p{", "\\p{Nope}", "\\pL", "\\x41", "\\x4", "\\u00e9", "\\u12", "\\U0001F600",
    "\\U00110000", "\\t", "\\n", "\\e", "\\q", "\\.", "\\[", "\\{",
    "[abc]", "[^a]", "[a-z]", "[z-a]", "[^]", "[]", "[]a]", "[a-\\d]", "[\\w-z]", "[[:alpha:]]",
    "[[a]&&[b]]", "[a--b]", "[a||b]", "[\\s\\S]", "[^\\x00-\\U0010FFFF]", "[\\p{L}--\\p{Lu}]",
    "a{0}", "(a*)*", "(a|b)*c", "((a+)+)+", "(?:a|ab|abc){3,7}", ".{0,32767}", "\\L<x>",
    "(*PRUNE)", "(?:a{2}){3}",
)
REGEX_SEEDS = (
    r"(yes|no)!", r"[a-z]+(-[a-z]+)*", r"\d{4}-\d{2}-\d{2}", r"^\w+@\w+\.(com|org)$",
    r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")\s*\}',
    r"(?i)hello( world)?", r"[^\x00-\x1f\"\\]{0,40}", r"(0|[1-9][0-9]*)(\.[0-9]+)?",
    r"(?x) a b # comment", r"(?s).{3,5}", r"\p{Lu}\p{Ll}*", r"(a|b|c){2,4}?",
)

# Wrong-typed and edge values for schema keywords.
ODD_VALUES: tuple[Any, ...] = (
    {"a": 1}, "x", "", [], {}, 3, 0, -1, 1.5, -0.0, 1e308, 5e-324, 10**30, -(10**30), None, True,
    False, ["string", {}], [[]], [{}], [1, 1], ["a", "a"], "3", "#", "#/nope", "#/$defs/a",
    "http://example.com/s.json", "^(a", "[", "(?<=a)b", {"type": "string"}, {"$ref": "#"},
    [{"type": "integer"}, {"type": "string"}], {"$ref": {}}, {"enum": "x"},
)
KEYWORDS = (
    "type", "enum", "const", "properties", "required", "items", "prefixItems", "additionalItems",
    "additionalProperties", "patternProperties", "propertyNames", "minLength", "maxLength",
    "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minItems", "maxItems", "uniqueItems", "contains", "minContains",
    "maxContains", "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
    "dependencies", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "$defs",
    "definitions", "$id", "id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef",
    "$recursiveAnchor", "unevaluatedItems", "unevaluatedProperties", "$schema", "default",
)
DIALECTS = (
    "http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-06/schema#",
    "http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2019-09/schema",
    "https://json-schema.org/draft/2020-12/schema", "http://json-schema.org/draft-03/schema#",
    "https://example.com/unknown",
)


def load_seed_schemas(data_dir: Path = DEFAULT_DATA_DIR, every: int = 1) -> list[Any]:
    """Every `every`-th schema of the dev set's `*.jsonl` files ([] when the data is absent)."""
    schemas = []
    for path in sorted(Path(data_dir).glob("*.jsonl")):
        rows = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        schemas.extend(json.loads(line)["schema"] for line in rows[::every])
    return schemas


def seed_patterns(schemas: list[Any]) -> list[str]:
    """The fixed regex seeds plus every string `pattern` found in `schemas`."""
    found: dict[str, None] = dict.fromkeys(REGEX_SEEDS)
    stack = list(schemas)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("pattern"), str):
                found[item["pattern"]] = None
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return list(found)


# --- regex -------------------------------------------------------------------------------------


def random_pattern(rng: random.Random, seeds: list[str] | tuple[str, ...] = REGEX_SEEDS) -> str:
    """A pattern: pieces joined at random, or a seed with a few text mutations."""
    if rng.random() < 0.3:
        return "".join(rng.choice(REGEX_PIECES) for _ in range(rng.randint(1, 12)))
    text = rng.choice(seeds)
    for _ in range(rng.randint(1, 4)):
        text = _mutate_text(rng, text)
    return text


def _mutate_text(rng: random.Random, text: str) -> str:
    i = rng.randint(0, len(text))
    j = rng.randint(i, min(len(text), i + 8))
    op = rng.randrange(7)
    if op == 0:
        return text[:i] + rng.choice(REGEX_PIECES) + text[i:]
    if op == 1:
        return text[:i] + text[j:]
    if op == 2:
        return text[:j] + text[i:j] + text[j:]
    if op == 3:
        return text[:i] + chr(rng.choice((rng.randrange(0x80), rng.randrange(0x110000)))) + text[j:]
    if op == 4:
        return f"(?:{text}){rng.choice(('*', '+', '{2,5}', '{1000}', '?', '{0,32767}'))}"
    if op == 5:
        depth = rng.choice((3, 50, 199, 201, 1000))
        return "(" * depth + text + ")" * rng.choice((depth, depth - 1, depth + 1))
    return text + "|" + rng.choice(REGEX_PIECES)


FLAGS = ("IGNORECASE", "DOTALL", "VERBOSE", "MULTILINE", "ASCII", "UNICODE", "FULLCASE", "WORD",
         "VERSION1", "BESTMATCH", "ENHANCEMATCH", "POSIX", "REVERSE")


@dataclass(frozen=True)
class RegexCase:
    """Pattern text; `flags` (names of `regex` flags) when it is passed as a compiled
    `regex.Pattern` instead; the guide engine."""

    text: str
    flags: tuple[str, ...] | None = None
    engine: str = "automaton"


def random_regex_case(rng: random.Random, seeds: list[str] | tuple[str, ...] = REGEX_SEEDS) -> RegexCase:
    """A random pattern (`random_pattern`), one time in five compiled with random flags, one
    time in six for the partial engine."""
    flags = tuple(rng.sample(FLAGS, rng.randint(0, 3))) if rng.random() < 0.2 else None
    engine = "partial" if rng.random() < 1 / 6 else "automaton"
    return RegexCase(random_pattern(rng, seeds), flags, engine)


def run_regex(case: RegexCase | str, vocabulary: Any,
              outside: Callable[[], ContextManager[object]] = contextlib.nullcontext) -> None:
    """Parse, build the expression, compile a guide and take its first mask (the partial engine:
    compile and mask). A case whose flags `regex.compile` itself refuses is skipped: no
    `regex.Pattern` can carry them. `regex.compile` of a flagged case runs inside `outside()`,
    so that a caller can tell the `regex` module's own time (and hangs) from typedecode's."""
    import regex

    from decoding.automaton.hir import to_expr
    from decoding.automaton.syntax import parse
    from decoding.guides.guide import compile as compile_guide

    case = RegexCase(case) if isinstance(case, str) else case
    pattern: Any = case.text
    if case.flags is not None:
        try:
            with outside():
                pattern = regex.compile(case.text, sum(int(getattr(regex, f)) for f in case.flags))
        except Exception:  # noqa: BLE001 - regex.compile's own failures are not under test
            return
    if case.engine == "automaton":
        to_expr(parse(pattern))
    guide = compile_guide(pattern, vocabulary, engine=case.engine, cache_dir=False, max_states=5_000)
    guide.allowed_tokens(guide.initial_state)


# --- schemas -----------------------------------------------------------------------------------


def random_json(rng: random.Random, depth: int = 3) -> Any:
    """A JSON-like value biased toward schema keywords and odd values."""
    roll = rng.random()
    if depth <= 0 or roll < 0.35:
        return copy.deepcopy(rng.choice(ODD_VALUES))
    if roll < 0.6:
        return [random_json(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    keys = [rng.choice(KEYWORDS) if rng.random() < 0.8 else rng.choice(("a", "b", "~/"))
            for _ in range(rng.randint(0, 4))]
    return {k: random_json(rng, depth - 1) for k in keys}


def mutate_schema(rng: random.Random, schema: Any) -> Any:
    """A copy of `schema` with 1-3 mutations at random places: a keyword's value replaced by an
    odd or random value, a keyword removed or added, a subschema replaced, a `$ref` to a random
    place, a different `$schema`."""
    result = copy.deepcopy(schema)
    for _ in range(rng.randint(1, 3)):
        result = _mutate_once(rng, result)
    return result


def _mutate_once(rng: random.Random, schema: Any) -> Any:
    holders = _containers(schema)
    if not holders or rng.random() < 0.05:
        return random_json(rng)
    holder, _ = rng.choice(holders)
    op = rng.randrange(6)
    if isinstance(holder, list):
        if holder and op < 3:
            holder[rng.randrange(len(holder))] = random_json(rng, 2)
        else:
            holder.append(random_json(rng, 2))
        return schema
    if op == 0 and holder:
        holder[rng.choice(list(holder))] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif op == 1 and holder:
        del holder[rng.choice(list(holder))]
    elif op == 2:
        holder[rng.choice(KEYWORDS)] = random_json(rng, 2)
    elif op == 3:
        target = rng.choice(holders)[1]
        holder["$ref"] = "#" + "".join("/" + str(t).replace("~", "~0").replace("/", "~1")
                                       for t in target)
    elif op == 4 and isinstance(schema, dict):
        schema["$schema"] = rng.choice(DIALECTS)
    else:
        holder[rng.choice(KEYWORDS)] = copy.deepcopy(rng.choice(ODD_VALUES))
    return schema


def _containers(value: Any) -> list[tuple[Any, tuple]]:
    """Every dict and list in `value`, with its path (walked without recursion)."""
    found: list[tuple[Any, tuple]] = []
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            found.append((item, path))
            stack.extend((v, path + (k,)) for k, v in item.items())
        elif isinstance(item, list):
            found.append((item, path))
            stack.extend((v, path + (i,)) for i, v in enumerate(item))
    return found


def random_schema(rng: random.Random, seeds: list[Any]) -> Any:
    """A mutated seed schema (most of the time), or a random JSON value."""
    if seeds and rng.random() < 0.85:
        return mutate_schema(rng, rng.choice(seeds))
    return random_json(rng)


def run_schema(schema: Any, vocabulary: Any, compile_too: bool) -> None:
    """`to_expression` and `to_regex`; with `compile_too`, `decoding.compile` of the schema and
    its first mask. Typed errors of one call do not stop the others."""
    import warnings

    import schema2re
    from decoding.errors import TypedecodeError
    from decoding.guides.guide import compile as compile_guide

    calls = [schema2re.to_expression, schema2re.to_regex]
    if compile_too:
        calls.append(lambda s: compile_guide(s, vocabulary, cache_dir=False, max_states=5_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in calls:
            try:
                result = call(schema)
            except TypedecodeError:
                continue
            if hasattr(result, "allowed_tokens"):
                result.allowed_tokens(result.initial_state)


# --- guides ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuideCase:
    """A pattern, an engine, and operations: ("step", token) advances the running state with
    `token` (a kind and a number, resolved against the vocabulary by `token_value`);
    ("state", value) calls every state method with `value` as the state."""

    pattern: str
    engine: str
    ops: tuple[tuple[str, Any], ...]


TOKEN_KINDS = ("allowed", "allowed", "allowed", "any", "eos", "special", "negative", "huge",
               "numpy", "bool", "float", "text", "none", "tensor")
GUIDE_PATTERNS = REGEX_SEEDS + (r"[0-9]{1,3}", r"(ab)+", r"", r"x*", r"日本|🎉+", r"\{\"a\": (1|2)\}")


def random_guide_case(rng: random.Random) -> GuideCase:
    """A pattern the automaton takes (or, one time in six, the partial engine), and 1-12 ops."""
    engine = "partial" if rng.random() < 1 / 6 else "automaton"
    ops = []
    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.15:
            ops.append(("state", rng.choice((-1, -(2**70), 0, 1, 2, 7, 10**6, 2**64, 1.5, "0",
                                             None, np.int64(1), np.uint8(1), True))))
        else:
            ops.append(("step", (rng.choice(TOKEN_KINDS), rng.getrandbits(32))))
    return GuideCase(rng.choice(GUIDE_PATTERNS), engine, tuple(ops))


def token_value(kind: str, number: int, allowed: np.ndarray, vocabulary: Any) -> Any:
    """The token id (or non-id) that `kind` and `number` name for a state allowing `allowed`."""
    import torch

    size = vocabulary.size
    specials = sorted(vocabulary.special_ids) or [0]
    eos = sorted(vocabulary.eos_token_ids) or [0]
    values = {
        "allowed": int(allowed[number % len(allowed)]) if len(allowed) else number % size,
        "any": number % size,
        "eos": eos[number % len(eos)],
        "special": specials[number % len(specials)],
        "negative": -1 - number % (size + 2),
        "huge": (size, 2**31, 2**63, 2**64 + 1, 10**40)[number % 5],
        "numpy": (np.int64, np.int32, np.uint64, np.uint16, np.int8)[number % 5](number % 120),
        "bool": bool(number % 2),
        "float": (number % size) + 0.5 * (number % 2),
        "text": str(number % size),
        "none": None,
        "tensor": torch.tensor(number % size),
    }
    return values[kind]


def run_guide(case: GuideCase, vocabulary: Any) -> None:
    """Compile the case's pattern and apply its operations; a `TypedecodeError` from one
    operation (a rejected token, a bad state) does not stop the next."""
    from decoding.errors import TypedecodeError
    from decoding.guides.guide import compile as compile_guide

    guide = compile_guide(case.pattern, vocabulary, engine=case.engine, cache_dir=False)
    state = guide.initial_state
    for op, arg in case.ops:
        try:
            if op == "state":
                _probe_state(guide, arg)
                continue
            allowed = _allowed_ids(guide, state)
            token = token_value(*arg, allowed, guide.vocabulary)
            state = guide.advance(state, token)
        except TypedecodeError:
            continue


def _allowed_ids(guide: Any, state: int) -> np.ndarray:
    mask = guide.allowed_tokens(state)
    ids = np.flatnonzero(mask.numpy())
    if hasattr(guide, "allowed_token_ids"):
        listed = guide.allowed_token_ids(state)
        eos = sorted(guide.vocabulary.eos_token_ids)
        assert set(listed.tolist()) == set(ids.tolist()) - set(eos), "mask and ids disagree"
    return ids


def _probe_state(guide: Any, state: Any) -> None:
    from decoding.errors import TypedecodeError

    for call in (guide.allowed_tokens, getattr(guide, "allowed_token_ids", None), guide.is_accepting,
                 guide.is_finished, getattr(guide, "forced_bytes", None),
                 lambda s: guide.advance(s, 0)):
        if call is None:
            continue
        try:
            call(state)
        except TypedecodeError:
            pass
