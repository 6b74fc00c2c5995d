"""schema2re against the JSON-Schema-Test-Suite (draft 2020-12) and the JSONSchemaBench dev set.

For every schema that compiles, every invalid instance must NOT fullmatch (zero false accepts),
and the share of schemas compiled and of valid instances matched must stay above ratchets
measured on this implementation (raise them when coverage improves, never lower them silently).
The test suite is checked whole (about a minute); the dev set is sampled (every `DEV_EVERY`-th
schema) and regexes over `MAX_MATCH_CHARS` are not matched, to keep the run short, as is the
suite under `extra_properties=True`; `benchmarks/schema_coverage.py` runs everything.
"""

from __future__ import annotations

import os

import pytest

from benchmarks import schema_coverage as coverage

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data")
DEV_EVERY = 4
MAX_MATCH_CHARS = coverage.MAX_MATCH_CHARS

pytestmark = pytest.mark.skipif(not os.path.isdir(DATA), reason="shared test data not present")


def _check(report, title: str, min_compiled: float, min_matched: float) -> None:
    print("\n" + report.summary(title))
    assert not report.crashes, report.crashes[:5]
    assert not report.false_accepts, report.false_accepts[:10]
    assert report.compiled / report.total >= min_compiled
    assert report.valid_matched / max(report.valid_total, 1) >= min_matched


def test_json_schema_test_suite():
    report = coverage.evaluate(coverage.suite_cases(DATA))
    _check(report, "JSON-Schema-Test-Suite draft2020-12", min_compiled=0.78, min_matched=0.885)


def test_json_schema_test_suite_with_extra_properties():
    report = coverage.evaluate(coverage.suite_cases(DATA), extra_properties=True, max_match_chars=MAX_MATCH_CHARS)
    _check(report, "JSON-Schema-Test-Suite draft2020-12, extra_properties=True", min_compiled=0.77, min_matched=0.89)


def test_jsonschemabench_dev_sample():
    report = coverage.evaluate(coverage.dev_cases(DATA), every=DEV_EVERY, max_match_chars=MAX_MATCH_CHARS)
    _check(report, f"JSONSchemaBench dev set (every {DEV_EVERY}th schema)", min_compiled=0.965, min_matched=0.955)
