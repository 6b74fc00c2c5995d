"""The mask benchmark's own logic: sampling, serialization, tokenization, the measurement of one
case, the worker time limit (hang, crash, unavailable engine), the report; and each engine adapter
on a small schema, skipped when that engine is not installed."""

from __future__ import annotations

import importlib
import importlib.util
import json
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import report
from benchmarks.cases import (
    RELLM_CASE,
    Case,
    allocate,
    sample_schemas,
    serialize,
    tokenize_case,
)
from benchmarks.engines import NAMES, load
from benchmarks.engines.base import Unsupported, bit_is_set, new_bitmask
from benchmarks.engines.outlines_core import byte_level_alphabet
from benchmarks.measure import measure
from benchmarks.supervisor import EngineRun, run_engine

# --- sampling and instances -----------------------------------------------------------------


def test_allocate_is_proportional_exact_and_covers_every_group():
    assert allocate([100, 300, 600], 10) == [1, 3, 6]
    assert sum(allocate([7, 0, 13, 2], 9)) == 9
    shares = allocate([1000, 5, 5], 10)
    assert shares[1] == shares[2] == 1 and sum(shares) == 10
    assert allocate([2, 3], 50) == [2, 3]  # capped at what exists
    assert allocate([4, 4], 0) == [0, 0]


def _write_dataset(folder: Path) -> None:
    for name, size in [("A.jsonl", 40), ("B.jsonl", 20), ("C.jsonl", 3)]:
        rows = [{"id": f"{name[0]}---{i}", "schema": {"type": "integer", "maximum": i},
                 "tests": [{"valid": True, "data": {"k": i, "é": [1, 2]}},
                           {"valid": False, "data": "x"}]} for i in range(size)]
        (folder / name).write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_sample_is_deterministic_stratified_and_seed_dependent(tmp_path):
    _write_dataset(tmp_path)
    first = sample_schemas(tmp_path, 9, seed=3)
    assert first == sample_schemas(tmp_path, 9, seed=3)
    assert [c.id for c in first] != [c.id for c in sample_schemas(tmp_path, 9, seed=4)]
    per_file = [sum(c.id.startswith(p) for c in first) for p in "ABC"]
    assert per_file == allocate([40, 20, 3], 9) and sum(per_file) == 9
    assert len({c.id for c in first}) == 9
    case = first[0]
    assert case.kind == "schema" and case.source["type"] == "integer"
    assert case.valid == (serialize({"k": int(case.id.split("---")[1]), "é": [1, 2]}),)
    assert case.invalid == ('"x"',)


def test_sample_rejects_a_folder_without_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="jsonl"):
        sample_schemas(tmp_path, 5, seed=0)


def test_sample_splits_records_on_newlines_only_and_names_a_bad_line(tmp_path):
    row = {"id": "x", "schema": {"const": "a\u2028b\x85c"}, "tests": []}
    (tmp_path / "A.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n\n")
    [case] = sample_schemas(tmp_path, 5, seed=0)
    assert case.source == {"const": "a\u2028b\x85c"}
    (tmp_path / "A.jsonl").write_text(json.dumps(row) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"A\.jsonl:2: not a JSON record"):
        sample_schemas(tmp_path, 5, seed=0)


def test_serialize_is_compact_keeps_order_and_unicode():
    text = serialize({"b": [1, 2.5, None], "a": "é 日本"})
    assert text == '{"b":[1,2.5,null],"a":"é 日本"}'


def test_tokenize_case_round_trips_every_instance(bpe_tokenizer):
    task = tokenize_case(RELLM_CASE, bpe_tokenizer)
    assert json.loads(json.dumps(task)) == task  # a plain JSON message
    assert task["kind"] == "regex" and task["source"] == RELLM_CASE.source
    texts = RELLM_CASE.valid + RELLM_CASE.invalid
    ids = task["valid"] + task["invalid"]
    assert [bpe_tokenizer.decode(t) for t in ids] == list(texts)
    assert all(bpe_tokenizer.bos_token_id not in t for t in ids)


# --- one case, in process ---------------------------------------------------------------------


class _PrefixMatcher:
    """Accepts exactly the token sequences whose concatenated text is one of `words`."""

    def __init__(self, words: list[str], vocab: list[str]):
        self.words, self.vocab, self.text = words, vocab, ""

    def reset(self):
        self.text = ""

    def mask(self):
        return [any(w.startswith(self.text + v) for w in self.words) for v in self.vocab]

    def advance(self, token):
        self.text += self.vocab[token]
        return True

    def allows(self, mask, token):
        return mask[token]

    def is_accepting(self, mask):
        return self.text in self.words


class _FakeEngine:
    name = distribution = "fake"
    vocab = ["a", "b", "ab", "c"]

    def setup(self, tokenizer):
        pass

    def compile(self, kind, source):
        if source == "unsupported":
            raise Unsupported("no such feature")
        if source == "bug":
            raise KeyError("oops")
        return _PrefixMatcher(source, self.vocab)


def _task(source, valid, invalid):
    return {"id": "t", "kind": "regex", "source": source, "valid": valid, "invalid": invalid}


def test_measure_counts_acceptance_soundness_and_steps():
    # "ab" as [a, b] and as [ab]; "abc" is a valid word but "b" is not one.
    result = measure(_FakeEngine(), _task(["ab", "abc"], [[0, 1], [2], [2, 3]], [[1], [0], [3]]))
    assert result["status"] == "ok" and result["first_mask_s"] >= 0
    assert (result["valid_accepted"], result["valid_total"]) == (3, 3)
    assert (result["invalid_accepted"], result["invalid_total"]) == (0, 3)
    assert len(result["step_ns"]) == 2 + 1 + 2  # one step per token of the valid instances
    assert result["message"] == ""


def test_measure_reports_where_a_valid_instance_is_rejected():
    result = measure(_FakeEngine(), _task(["ab"], [[0, 3], [0]], [[0, 1]]))
    assert result["valid_accepted"] == 0 and result["invalid_accepted"] == 1
    assert "valid #0: token 1/2 (id 3) not in the mask" in result["message"]
    assert "valid #1: not accepting at the end" in result["message"]


def test_measure_separates_refusals_from_engine_bugs():
    refused = measure(_FakeEngine(), _task("unsupported", [[0]], []))
    assert refused["status"] == "unsupported" and refused["message"] == "no such feature"
    bug = measure(_FakeEngine(), _task("bug", [[0]], []))
    assert bug["status"] == "error" and "KeyError" in bug["message"]
    assert "first_mask_s" not in bug and bug["valid_total"] == 1


class _SleepyEngine(_FakeEngine):
    def compile(self, kind, source):
        time.sleep(0.05)  # waiting, not computing: wall-clock time, no CPU time
        return super().compile(kind, source)


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_measure_reads_the_clock_it_is_given(monkeypatch, clock):
    """`BENCH_CLOCK=cpu` (`benchmarks.masks --clock cpu`) times the measuring thread's CPU, so a
    wait inside a compile does not count; wall-clock time (the default) counts it."""
    import benchmarks.measure as measured

    monkeypatch.setenv("BENCH_CLOCK", clock)
    try:
        fresh = importlib.reload(measured)
        result = fresh.measure(_SleepyEngine(), _task(["ab"], [[0, 1]], []))
    finally:
        monkeypatch.delenv("BENCH_CLOCK")
        importlib.reload(measured)
    assert result["status"] == "ok"
    assert (result["first_mask_s"] >= 0.05) == (clock == "wall")


def test_packed_bitmask_helpers():
    mask = new_bitmask(70)
    assert mask.shape == (3,) and mask.dtype == np.int32
    mask[1] = np.int32(-2**31)  # bit 31 of word 1: token 63
    mask[2] = 1 << 5  # token 69
    assert [t for t in range(70) if bit_is_set(mask, t)] == [63, 69]
    assert not bit_is_set(mask, 5000)


def test_byte_level_alphabet_is_a_bijection_onto_bytes():
    table = byte_level_alphabet()
    assert sorted(table.values()) == list(range(256))
    assert table["a"] == ord("a") and table["Ġ"] == ord(" ") and table["Ċ"] == ord("\n")


# --- worker processes and their time limit --------------------------------------------------

FAKE_WORKER = """
    import atexit, json, os, sys, time
    spec = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    atexit.register(lambda: open(os.path.join(here, f"exited-{os.getpid()}"), "w").close())
    if spec == "broken":
        print(json.dumps({"ready": False, "message": "cannot load"}), flush=True)
        sys.exit(1)
    print(json.dumps({"ready": True, "version": "9", "setup_s": 0.5}), flush=True)
    for line in sys.stdin:
        task = json.loads(line)
        if task["id"] == "hang":
            time.sleep(600)
        if task["id"] == "crash":
            sys.stderr.write("boom\\n"); sys.stderr.flush(); os._exit(3)
        print(json.dumps({"id": task["id"], "status": "ok", "pid": os.getpid()}), flush=True)
"""


def _tasks(*ids):
    return [{"id": i, "kind": "regex", "source": "x", "valid": [[1]], "invalid": []} for i in ids]


@pytest.fixture
def fake_worker(tmp_path, monkeypatch):
    (tmp_path / "fake_worker.py").write_text(textwrap.dedent(FAKE_WORKER))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


def test_time_limit_records_hangs_and_crashes_and_goes_on(fake_worker):
    run = run_engine("fake", _tasks("a", "hang", "b", "crash", "c"), fake_worker,
                     fake_worker / "log", time_limit=2, worker_module="fake_worker")
    assert [r["status"] for r in run.results] == ["ok", "timeout", "ok", "crash", "ok"]
    assert run.results[1]["message"] == "no answer within 2 s"
    assert "code 3" in run.results[3]["message"] and "boom" in run.results[3]["message"]
    pids = [r.get("pid") for r in run.results]
    assert pids[0] != pids[2] != pids[4]  # a fresh worker after each failure
    assert (run.version, run.setup_s, run.unavailable) == ("9", 0.5, "")


def test_the_last_worker_exits_on_its_own_and_runs_its_exit_handlers(fake_worker):
    run = run_engine("fake", _tasks("a", "b"), fake_worker, fake_worker / "log",
                     worker_module="fake_worker")
    assert [r["status"] for r in run.results] == ["ok", "ok"]
    assert (fake_worker / f"exited-{run.results[0]['pid']}").exists()


def test_an_engine_that_cannot_start_is_unavailable_for_every_case(fake_worker):
    run = run_engine("broken", _tasks("a", "b"), fake_worker, fake_worker / "log",
                     worker_module="fake_worker")
    assert run.unavailable == "cannot load"
    assert [(r["id"], r["status"]) for r in run.results] == [("a", "unavailable"),
                                                             ("b", "unavailable")]


def test_a_spent_budget_skips_the_remaining_cases(fake_worker):
    run = run_engine("fake", _tasks("a", "b"), fake_worker, fake_worker / "log", budget_s=0,
                     worker_module="fake_worker")
    assert [r["status"] for r in run.results] == ["skipped", "skipped"]


FAKE_ENGINE = """
    class _Matcher:
        def reset(self): pass
        def mask(self): return None
        def advance(self, token): return True
        def allows(self, mask, token): return token == 7
        def is_accepting(self, mask): return True

    class Engine:
        name = "noisy"
        distribution = "no-such-distribution"
        def setup(self, tokenizer):
            assert tokenizer.eos_token == "</s>"
        def compile(self, kind, source):
            print("engine chatter on stdout")
            return _Matcher()

    ENGINE = Engine()
"""


def test_real_worker_measures_and_keeps_engine_output_off_the_protocol(tmp_path, monkeypatch,
                                                                       bpe_tokenizer):
    package = tmp_path / "fake_engines"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "noisy.py").write_text(textwrap.dedent(FAKE_ENGINE))
    bpe_tokenizer.save_pretrained(tmp_path / "tok")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    tasks = [{"id": "a", "kind": "regex", "source": "x", "valid": [[7, 7], [8]],
              "invalid": [[7]]}]
    run = run_engine("fake_engines.noisy", tasks, tmp_path / "tok", tmp_path / "log",
                     time_limit=60)
    assert run.unavailable == "" and run.version == "not installed" and run.setup_s >= 0
    [result] = run.results
    assert result["status"] == "ok" and len(result["step_ns"]) == 2
    assert (result["valid_accepted"], result["invalid_accepted"]) == (1, 1)
    assert "engine chatter" in (tmp_path / "log").read_text()


# --- the report ---------------------------------------------------------------------------


def _run(label, rows):
    return EngineRun(label=label, version="1", setup_s=0.1, results=[
        {"id": i, "status": status, "first_mask_s": fm, "step_ns": steps, "valid_accepted": va,
         "valid_total": vt, "invalid_accepted": ia, "invalid_total": it, "message": ""}
        for i, status, fm, steps, va, vt, ia, it in rows])


def test_summaries_count_over_compiled_cases_and_the_common_subset(tmp_path):
    fast = _run("llguidance", [("s1", "ok", 0.001, [1000, 3000], 1, 1, 0, 2),
                               ("s2", "ok", 0.003, [2000], 0, 1, 1, 1)])
    slow = _run("other", [("s1", "ok", 0.010, [4000, 4000], 1, 1, 0, 2),
                          ("s2", "timeout", 0, [], 0, 1, 0, 1)])
    assert report.common_ids([fast, slow]) == {"s1"}
    s = report.summarize(fast)
    assert (s.compiled, s.tasks, s.valid_accepted, s.valid_total) == (2, 2, 1, 2)
    assert (s.invalid_accepted, s.invalid_tested) == (1, 3)
    assert report.percentile(s.first_mask_ms, 50) == pytest.approx(2.0)
    assert report.percentile(s.step_us, 50) == pytest.approx(2.0)
    t = report.summarize(slow)
    assert (t.compiled, t.statuses["timeout"], t.valid_total, t.invalid_tested) == (1, 1, 2, 2)
    ratios = report.ratio_table([fast, slow])
    assert "| other | 1 | 10.00x | 2.00x | 1.34x | 2.00x |" in ratios  # compared on s1 only
    table = report.main_table([s, t])
    assert "| other | 1 | 0.1 | 1/2 |" in table and "| 0 / 0 / 0 |" in table


def test_chart_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    runs = [_run("llguidance", [("s1", "ok", 0.001, [1000, 3000], 1, 1, 0, 2)]),
            _run("none", [("s1", "unsupported", 0, [], 0, 1, 0, 2)])]
    report.chart([report.summarize(r) for r in runs], tmp_path / "c.png", "title")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- adapters, in process, on a small byte-level BPE tokenizer ----------------------------------

_IMPORTS = {"typedecode": "decoding", "llguidance": "llguidance", "xgrammar": "xgrammar",
            "outlines-core": "outlines_core", "lm-format-enforcer": "lmformatenforcer"}

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}},
          "required": ["name", "n"], "additionalProperties": False}


@pytest.mark.parametrize("name", NAMES)
def test_adapter_accepts_valid_and_rejects_invalid_instances(name, bpe_tokenizer):
    if importlib.util.find_spec(_IMPORTS[name]) is None:
        pytest.skip(f"{name} is not installed (pip install -e .[bench])")
    engine = load(name)
    engine.setup(bpe_tokenizer)
    case = Case("small", "schema", SCHEMA, valid=('{"name":"alpha","n":3}',),
                invalid=('{"name":"alpha","n":"3"}', '{"name":"alpha"}', '{"n":3,"n":4}'))
    result = measure(engine, tokenize_case(case, bpe_tokenizer))
    assert result["status"] == "ok", result
    assert result["valid_accepted"] == 1 and result["invalid_accepted"] == 0, result
    rellm = measure(engine, tokenize_case(RELLM_CASE, bpe_tokenizer))
    assert rellm["status"] == "ok" and rellm["invalid_accepted"] == 0, rellm
    assert rellm["valid_accepted"] >= 1, rellm


def test_typedecode_adapter_bitmask_and_bool_masks_allow_the_same_tokens(bpe_tokenizer, monkeypatch):
    from benchmarks.engines import typedecode as adapter

    engine = load("typedecode")
    engine.setup(bpe_tokenizer)
    ids = list(bpe_tokenizer('{"name":"ab","n":12}', add_special_tokens=False)["input_ids"])
    for form in ("bitmask", "bool"):
        monkeypatch.setattr(adapter, "MASK_FORM", form)
        matcher = engine.compile("schema", SCHEMA)
        masks = []
        for token in [*ids, None]:
            mask = matcher.mask()
            masks.append([matcher.allows(mask, t) for t in range(len(bpe_tokenizer) + 40)])
            if token is not None:
                assert matcher.advance(token)
        assert matcher.is_accepting(mask)
        if form == "bitmask":
            assert isinstance(mask, np.ndarray) and mask.dtype == np.int32
            bitmask_masks = masks
    assert masks == bitmask_masks and any(any(m) for m in masks)
