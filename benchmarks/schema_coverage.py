"""Coverage and soundness of schema2re on the JSON-Schema-Test-Suite and the JSONSchemaBench dev set.

    python benchmarks/schema_coverage.py [--data DIR] [--only suite|dev] [--lenient] [--extra-properties]
                                         [--limit N] [--every N] [--processes N]

For each data set, prints: schemas compiled / total, compile errors by keyword, valid instances
matched (of compiled schemas), false accepts (invalid instances matched: must be 0), fullmatch
time-outs, largest expression (tree nodes), translation time p50/p99. Instances are serialized
compactly (`json.dumps(data, separators=(",", ":"), ensure_ascii=False)`) and checked with
`schema2re.to_expression(...).matches`, and with `regex.fullmatch` where the expression has regex
text (the two must agree). The functions here are also used by tests/schema2re/test_schema2re_suites.py.
"""

from __future__ import annotations

import argparse
import collections
import glob
import itertools
import json
import multiprocessing
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Iterable, Iterator

import regex

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from decoding.automaton.render import to_text  # noqa: E402
from decoding.errors import NoRegexText  # noqa: E402
from schema2re import SchemaToRegexError, to_expression  # noqa: E402

DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
MATCH_TIMEOUT_S = 0.5
MAX_MATCH_CHARS = 60_000
"""Longest regex text also checked with `regex.fullmatch`: the `regex` module's compile of
megabyte texts costs seconds and hundreds of MB (Github_easy---o24467: 68 s, +530 MB), which
made the full dev run grow past the machine's memory; `matches` checks every instance anyway."""


@dataclass
class Case:
    """One schema with its test instances: (data, valid) pairs."""

    name: str
    schema: Any
    tests: list[tuple[Any, bool]]


@dataclass
class Report:
    """Aggregated results over a data set."""

    total: int = 0
    compiled: int = 0
    errors: collections.Counter = field(default_factory=collections.Counter)
    crashes: list[str] = field(default_factory=list)
    valid_total: int = 0
    valid_matched: int = 0
    invalid_total: int = 0
    false_accepts: list[str] = field(default_factory=list)
    timeouts: int = 0
    unchecked_large: int = 0
    largest: tuple[int, str] = (0, "")
    compile_times: list[float] = field(default_factory=list)

    def merge(self, other: Report) -> None:
        """Add `other`'s counts and lists (the cases after this report's) to this report."""
        for name in ("total", "compiled", "valid_total", "valid_matched", "invalid_total",
                     "timeouts", "unchecked_large"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.update(other.errors)
        for name in ("crashes", "false_accepts", "compile_times"):
            getattr(self, name).extend(getattr(other, name))
        if other.largest[0] > self.largest[0]:
            self.largest = other.largest

    def summary(self, title: str) -> str:
        """Human-readable lines for this data set."""
        times = sorted(self.compile_times) or [0.0]
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        lines = [
            f"== {title}",
            f"schemas compiled: {self.compiled} / {self.total} ({100 * self.compiled / max(self.total, 1):.1f}%)",
            f"valid instances matched: {self.valid_matched} / {self.valid_total} "
            f"({100 * self.valid_matched / max(self.valid_total, 1):.1f}%)",
            f"false accepts: {len(self.false_accepts)} (of {self.invalid_total} invalid instances)",
            f"fullmatch time-outs ({MATCH_TIMEOUT_S}s): {self.timeouts}; "
            f"schemas whose instances were not checked (regex over the size cap): {self.unchecked_large}",
            f"largest expression: {self.largest[0]} nodes ({self.largest[1]})",
            f"compile time p50/p99: {1000 * statistics.median(times):.1f} / {1000 * p99:.1f} ms",
            "compile errors by keyword: " + ", ".join(f"{k}={v}" for k, v in self.errors.most_common(15)),
        ]
        if self.crashes:
            lines.append(f"UNEXPECTED EXCEPTIONS: {len(self.crashes)}: " + "; ".join(self.crashes[:5]))
        if self.false_accepts:
            lines.append("FALSE ACCEPTS: " + "; ".join(self.false_accepts[:10]))
        return "\n".join(lines)


def suite_cases(data_dir: str) -> Iterator[Case]:
    """The JSON-Schema-Test-Suite draft 2020-12 cases (optional/ and optional/format/ included)."""
    base = os.path.join(data_dir, "json-schema-test-suite", "tests", "draft2020-12")
    paths = sorted(glob.glob(os.path.join(base, "*.json")) + glob.glob(os.path.join(base, "optional", "*.json"))
                   + glob.glob(os.path.join(base, "optional", "format", "*.json")))
    for path in paths:
        with open(path, encoding="utf-8") as f:
            groups = json.load(f)
        rel = os.path.relpath(path, base)
        for group in groups:
            yield Case(f"{rel}: {group['description']}", group["schema"],
                       [(t["data"], bool(t["valid"])) for t in group["tests"]])


def dev_cases(data_dir: str) -> Iterator[Case]:
    """The JSONSchemaBench dev set cases (schemas without tests included: they count as compiled or not)."""
    for path in sorted(glob.glob(os.path.join(data_dir, "jsonschemabench-dev", "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                item = json.loads(line)
                yield Case(item["id"], item["schema"],
                           [(t["data"], bool(t["valid"])) for t in item.get("tests", [])])


def instance_text(data: Any) -> str:
    """The compact serialization used for every check."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def evaluate(cases: Iterable[Case], *, lenient: bool = False, extra_properties: bool = False,
             limit: int | None = None, every: int = 1, max_match_chars: int | None = None,
             processes: int = 1) -> Report:
    """Compile every `every`-th case (at most `limit`) and check its instances (see module doc).

    Every instance is checked with the expression's `matches`; where `to_regex` renders the same
    expression as text of at most `max_match_chars` characters, with `regex.fullmatch` too, and
    a disagreement is a crash (`Report.unchecked_large` counts schemas whose text was too long or
    absent). `lenient` and `extra_properties` are passed to `to_expression`. With `processes` > 1
    the cases are checked in that many spawned worker processes, in chunks merged in case order,
    so the report is the one a single process gives (compile times aside).
    """
    selected = list(itertools.islice(itertools.islice(cases, 0, None, every), limit))
    options = _Options(lenient, extra_properties, max_match_chars)
    if processes <= 1:
        return _evaluate_chunk(selected, options)
    chunks = [selected[i:i + _CHUNK] for i in range(0, len(selected), _CHUNK)]
    report = Report()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        for part in pool.map(_evaluate_chunk, chunks, itertools.repeat(options)):
            report.merge(part)
    return report


def default_processes() -> int:
    """Worker processes for a whole-data-set run: the CPUs this process may use, at most 4."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


_CHUNK = 8
"""Cases per task sent to a worker: small, so that the slow cases (which cluster in a few
files of a data set) spread over the workers."""


@dataclass(frozen=True)
class _Options:
    lenient: bool
    extra_properties: bool
    max_match_chars: int | None


def _evaluate_chunk(cases: list[Case], options: _Options) -> Report:
    """The report of `cases`, checked in order in this process."""
    report = Report()
    for case in cases:
        _evaluate_case(report, case, options)
    return report


def _evaluate_case(report: Report, case: Case, options: _Options) -> None:
    """Compile `case.schema`, check its instances and add the outcome to `report`."""
    report.total += 1
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expression = to_expression(case.schema, lenient=options.lenient,
                                       extra_properties=options.extra_properties)
    except SchemaToRegexError as exc:
        report.errors[exc.keyword or type(exc).__name__] += 1
        return
    except Exception as exc:  # a bug: must never happen
        report.crashes.append(f"{case.name}: {type(exc).__name__}: {exc}"[:300])
        return
    report.compile_times.append(time.perf_counter() - start)
    report.compiled += 1
    if expression.size > report.largest[0]:
        report.largest = (expression.size, case.name)
    compiled = _regex_of(expression, options.max_match_chars) if case.tests else None
    if compiled is None and case.tests:
        report.unchecked_large += 1
    for data, valid in case.tests:
        text = instance_text(data)
        matched = expression.matches(text)
        if compiled is not None:
            try:
                if (compiled.fullmatch(text, timeout=MATCH_TIMEOUT_S) is not None) != matched:
                    report.crashes.append(f"{case.name}: expression and regex disagree on "
                                          f"{text[:80]}")
            except TimeoutError:
                report.timeouts += 1
        if valid:
            report.valid_total += 1
            report.valid_matched += matched
        else:
            report.invalid_total += 1
            if matched:
                report.false_accepts.append(f"{case.name}: {text[:80]}")


def _regex_of(expression: Any, max_chars: int | None) -> regex.Pattern | None:
    """The compiled regex text of `expression`, or None without text (or over `max_chars`)."""
    try:
        text = to_text(expression, max_chars)
    except NoRegexText:
        return None
    return regex.compile(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--only", choices=["suite", "dev"])
    parser.add_argument("--lenient", action="store_true")
    parser.add_argument("--extra-properties", action="store_true",
                        help="to_expression(extra_properties=True): undeclared members where additionalProperties is absent")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--processes", type=int, default=default_processes(),
                        help="worker processes (default: the usable CPUs, at most 4)")
    parser.add_argument("--every", type=int, default=1, help="only every N-th schema")
    parser.add_argument("--max-match-chars", type=int, default=MAX_MATCH_CHARS,
                        help="longest regex text also checked with regex.fullmatch")
    args = parser.parse_args()
    options = {"lenient": args.lenient, "extra_properties": args.extra_properties, "limit": args.limit,
               "every": args.every, "max_match_chars": args.max_match_chars, "processes": args.processes}
    if args.only in (None, "suite"):
        print(evaluate(suite_cases(args.data), **options).summary("JSON-Schema-Test-Suite draft2020-12"))
    if args.only in (None, "dev"):
        print(evaluate(dev_cases(args.data), **options).summary("JSONSchemaBench dev set"))


if __name__ == "__main__":
    main()
