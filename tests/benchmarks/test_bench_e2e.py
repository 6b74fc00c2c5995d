"""The end-to-end benchmark's own logic, without a model: case selection, prompts, output
validation, the ratios and the report (`benchmarks.e2e`, `benchmarks.e2e_report`)."""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

import pytest

from benchmarks import e2e
from benchmarks import e2e_report as report
from benchmarks.cases import Case, sample_schemas
from benchmarks.e2e_report import Run

# --- selection ------------------------------------------------------------------------------


def _case(name: str, schema: object, valid: tuple[str, ...] = ('{"a":1}',)) -> Case:
    return Case(id=name, kind="schema", source=schema, valid=valid, invalid=())


def test_spread_takes_evenly_spaced_items_in_order():
    assert e2e.spread(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert e2e.spread(list(range(7)), 3) == [0, 2, 4]
    assert e2e.spread([1, 2], 5) == [1, 2]
    assert e2e.spread([1, 2], 0) == []


def test_modest_needs_a_small_object_schema_with_a_short_valid_instance():
    small = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert e2e.modest(_case("ok", small))
    assert not e2e.modest(_case("array", {"type": "array"}))
    assert not e2e.modest(_case("no type", {"properties": {}}))
    assert not e2e.modest(_case("no instance", small, valid=()))
    assert not e2e.modest(_case("long instance", small,
                                valid=("x" * (e2e.MAX_INSTANCE_CHARS + 1),)))
    big = {"type": "object", "description": "d" * e2e.MAX_SCHEMA_CHARS}
    assert not e2e.modest(_case("big", big))


def _write_data(folder: Path) -> None:
    for name, count in (("A", 30), ("B", 12)):
        rows = []
        for i in range(count):
            schema = {"type": "object" if i % 3 else "string", "title": f"{name}{i}"}
            rows.append(json.dumps({"id": f"{name}---{i}", "schema": schema,
                                    "tests": [{"valid": True, "data": {"k": i}}]}))
        (folder / f"{name}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_selection_is_deterministic_and_filters_before_spreading(tmp_path):
    _write_data(tmp_path)
    asked = []

    def supported(case: Case) -> bool:
        asked.append(case.id)
        return not case.id.endswith("5")

    first = e2e.select_schemas(sample_schemas(tmp_path, 20, 3), 4, supported)
    again = e2e.select_schemas(sample_schemas(tmp_path, 20, 3), 4, lambda c: not c.id.endswith("5"))
    assert [c.id for c in first] == [c.id for c in again]
    assert len(first) == 4
    assert all(c.source["type"] == "object" and not c.id.endswith("5") for c in first)
    pool = sample_schemas(tmp_path, 20, 3)
    eligible = [c.id for c in pool if e2e.modest(c) and not c.id.endswith("5")]
    assert [c.id for c in first] == e2e.spread(eligible, 4)
    # the predicate only sees modest (object) schemas
    assert asked and all(next(c for c in pool if c.id == i).source["type"] == "object"
                         for i in asked)


def test_schema_message_carries_the_schema_json():
    schema = {"type": "object", "properties": {"ville": {"const": "Zürich"}}}
    message = e2e.schema_message(schema)
    assert message.startswith(e2e.SCHEMA_REQUEST)
    assert json.loads(message[len(e2e.SCHEMA_REQUEST):]) == schema



def test_schema_prompt_uses_the_chat_template_only_where_there_is_one():
    class Chat:
        chat_template = "{{ messages }}"

        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            assert tokenize is False and add_generation_prompt is True
            return f"<user>{messages[0]['content']}</user><assistant>"

    class Base:  # Gemma 3 270M's GGUF tokenizer: no chat template
        chat_template = None

    schema = {"type": "object"}
    message = e2e.schema_message(schema)
    assert e2e.schema_prompt(Chat(), schema) == f"<user>{message}</user><assistant>"
    assert e2e.schema_prompt(Base(), schema) == message + "\n\n"



def test_support_without_lm_format_enforcer_needs_only_typedecode_and_regex():
    small = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert e2e._supported(_case("ok", small), lmfe=False)
    assert not e2e._supported(_case("bad", {"type": "object", "properties": {"a": {
        "type": "string", "pattern": "(?<=a)b"}}}), lmfe=False)  # lookbehind: no regular language


def test_validator_checks_schema_and_regex_outputs():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    check = e2e._validator(e2e.Workload("s", "p", "unused", schema))
    assert check('{"n": 3}')
    assert not check('{"n": "3"}')
    assert not check('{"n": 3')
    regex_check = e2e._validator(e2e.Workload("r", "p", r"a+b"))
    assert regex_check("aab")
    assert not regex_check("aabb")


def test_logged_errors_are_collected_not_printed(capsys):
    with e2e._logged_errors() as errors:
        try:
            raise ValueError("bad state")
        except ValueError:
            logging.getLogger().exception("parser gave up")
        logging.getLogger("quiet").warning("not an error")
    assert errors == ["ValueError: bad state"]
    assert "bad state" not in capsys.readouterr().err


def test_rellm_missing_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "rellm", None)
    run = e2e.time_rellm(None, None, e2e.Workload("w", "p", "a"), 4, 8, 10)
    assert run.tokens is None and run.seconds is None
    assert "not installed" in run.note and e2e.RELLM_INSTALL in run.note


# --- ratios and report ----------------------------------------------------------------------


def _runs() -> list[Run]:
    return [
        Run("w1", report.BASELINE, 20, 2.0),
        Run("w1", report.TYPEDECODE, 20, 1.0, True, True),
        Run("w1", report.TYPEDECODE_COLD, 20, 4.0, True, True),
        Run("w1", report.LMFE, 40, 8.0, True, True),
        Run("w1", report.RELLM, 5, 5.0, None, None, "first 5 tokens"),
        Run("w2", report.BASELINE, 10, 2.0),
        Run("w2", report.TYPEDECODE, 10, 4.0, True, True),
        Run("w2", report.TYPEDECODE_COLD, 10, 4.0, True, True),
        Run("w2", report.LMFE, 10, 1.0, True, False),
        Run("w2", report.RELLM, None, None, note="not installed"),
    ]


def test_ratios_are_per_workload_and_time_needs_equal_tokens():
    groups = report.by_workload(_runs())
    w1 = groups["w1"]
    assert report.rate_ratio(w1[report.TYPEDECODE], w1[report.BASELINE]) == pytest.approx(2.0)
    assert report.time_ratio(w1[report.TYPEDECODE], w1[report.BASELINE]) == pytest.approx(0.5)
    assert report.time_ratio(w1[report.LMFE], w1[report.BASELINE]) is None
    assert report.rate_ratio(groups["w2"][report.RELLM], groups["w2"][report.BASELINE]) is None


def test_headline_geometric_means_skip_undefined_workloads():
    summaries = {s.label.split(":")[0].split(" (target")[0]: s
                 for s in report.headline(_runs())}
    warm = summaries["typedecode (warm)"]
    assert warm.mean == pytest.approx(math.sqrt(0.5 * 2.0)) and warm.count == 2
    assert (warm.low, warm.high) == (0.5, 2.0)
    lmfe_object = summaries["lm-format-enforcer time to a finished object ÷ typedecode (warm)"]
    assert lmfe_object.count == 1 and lmfe_object.mean == pytest.approx(8.0)  # w2 invalid
    rellm = summaries["typedecode (warm) tokens/s ÷ RELLM tokens/s"]
    assert rellm.count == 1 and rellm.mean == pytest.approx(20.0)
    assert report.summarize("none", []).mean is None


def test_completion_counts_only_runs_that_could_finish():
    counts = report.completion_counts(_runs())
    assert counts[report.TYPEDECODE] == (2, 2)
    assert counts[report.LMFE] == (1, 2)
    assert report.RELLM not in counts and report.BASELINE not in counts


def test_fmt_ratio():
    assert report.fmt_ratio(None) == "-"
    assert report.fmt_ratio(0.456) == "0.46x"
    assert report.fmt_ratio(23.4) == "23x"


def test_markdown_and_chart(tmp_path):
    runs = _runs()
    summaries = report.headline(runs)
    meta = {"command": "python -m benchmarks.e2e", "date": "d", "machine": "m", "model": "M",
            "settings": {"threads": 1, "repeats": 3, "rellm_tokens": 5, "max_new_tokens": 64},
            "versions": {"torch": "x"}, "total_s": 90.0, "lmfe_tokenizer_data_s": 1.0,
            "rellm_token_table_s": None, "selection": "rule", "notes": ["note one"]}
    text = report.markdown(meta, runs, summaries)
    assert "tokenizer data is built once before the runs (1.0 s" in text
    assert "left out of this run" in report.markdown({**meta, "lmfe_tokenizer_data_s": None},
                                                     runs, summaries)
    assert "| w1 | typedecode (warm) | 20 | yes | yes | 1.00 | 20.0 | 2.00x | 0.50x |" in text
    assert "| w2 | RELLM | - | - | - | - | - | - | - | not installed |" in text
    assert "typedecode (warm) 2/2" in text and "lm-format-enforcer 1/2" in text
    assert "- note one" in text and "1.5 min" in text
    path = tmp_path / "e2e.png"
    pytest.importorskip("matplotlib")
    report.chart(runs, path, "title")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
