"""benchmarks.cold_first: the phases it wraps exist, and its report's shares and glue."""

from benchmarks.cold_first import instrument, report
from benchmarks.cold_steps import Phases


def test_every_phase_wraps_a_function_of_the_cold_path(monkeypatch):
    import schema2re
    from decoding import util
    from decoding.automaton import dfa
    from decoding.guides import bitmask, guide
    from decoding.persist import cached
    from decoding.tokens import index, walk
    from schema2re import document, inputs

    owners = [(schema2re, "to_expression"), (document.Document, "__init__"),
              (inputs, "_check_json"), (cached, "cached_schema_language"),
              (cached, "open_index"), (dfa.Automaton, "__init__"),
              (dfa.Automaton, "_compute_row"), (walk.TrieWalk, "_depth_first"),
              (cached.PersistentIndex, "_take_unsaved"), (index.TokenIndex, "entry"),
              (bitmask.packed, "fill_rows"), (util, "_resume_gc"), (guide, "compile")]
    for owner, name in owners:  # undone at the end of the test
        monkeypatch.setattr(owner, name, getattr(owner, name))
    phases = Phases()
    instrument(phases)
    assert all(getattr(owner, name).__wrapped__ for owner, name in owners)
    assert schema2re.to_expression({"const": 1}).matches("1")
    ns, calls = phases.take()
    assert calls["translate"] == 1 and calls["document"] == 1 and ns["translate"] > 0


def test_the_report_gives_each_phase_its_share_and_the_rest_as_glue():
    cases = [("a", 4_000_000, {"translate": 2_000_000, "rows": 1_000_000}),
             ("b", 2_000_000, {"translate": 1_000_000})]
    lines = report(cases, top=1).splitlines()
    assert lines[0] == '{"cases": 2, "first_ms_p50": 3.0, "first_ms_mean": 3.0}'
    assert lines[2].split() == ["translate", "1.500", "3.00", "50.0%"]
    assert lines[3].split() == ["rows", "0.500", "1.00", "16.7%"]
    assert lines[4].split() == ["(glue)", "1.000", "2.00", "33.3%"]
    assert lines[5].split()[0] == "total" and lines[6].startswith("slowest 1 cases")
    assert lines[7].split()[:2] == ["4.00", "a"] and len(lines) == 8
