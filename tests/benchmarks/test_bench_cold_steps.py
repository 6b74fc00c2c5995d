"""benchmarks.cold_steps' phase timers: exclusive times, calls, and the report's bands."""

import time

import pytest

from benchmarks.cold_steps import Phases, report


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_a_phase_excludes_the_wrapped_calls_inside_it():
    phases = Phases()
    inner = phases.wrap("inner", lambda: _spin(0.02))

    def outer_body():
        inner()
        inner()
        _spin(0.01)

    outer = phases.wrap("outer", outer_body)
    start = time.thread_time_ns()
    outer()
    total = time.thread_time_ns() - start
    ns, calls = phases.take()
    assert calls == {"outer": 1, "inner": 2}
    assert ns["inner"] >= 40e6 and 10e6 <= ns["outer"] < 25e6
    assert ns["inner"] + ns["outer"] <= total
    assert phases.take() == ({}, {})


def test_a_call_that_raises_is_counted_and_leaves_no_open_call():
    phases = Phases()

    def fail():
        _spin(0.005)
        raise ValueError("no")

    failing = phases.wrap("failing", fail)
    with pytest.raises(ValueError):
        phases.wrap("outer", failing)()
    ns, calls = phases.take()
    assert calls == {"failing": 1, "outer": 1} and ns["failing"] >= 5e6 > ns["outer"]
    assert phases._inner == []


def test_the_report_names_the_slowest_steps_and_their_phases():
    steps = [{"ns": 1000 * (i + 1), "case": f"case{i}", "i": i, "token": "t", "new_states": 0,
              "ns_by_phase": {"rows": 500 * (i + 1)}, "calls": {"rows": 1}} for i in range(200)]
    text = report(steps, [1.0, 2.0], top=2)
    lines = text.splitlines()
    assert '"steps": 200' in lines[0] and '"step_us_p99": 198.0' in lines[0]
    assert lines[1].startswith("top 1%: 3 steps")
    assert "rows" in lines[2] and "50%" in lines[2]
    assert "case199" in text and "case198" in text and "case0 " not in text


def test_calls_on_another_thread_are_not_timed():
    """The cache's writer runs wrapped functions too (it packs records): only the thread that
    made the timers is measured."""
    import threading

    phases = Phases()
    packed = phases.wrap("pack", lambda: _spin(0.005))
    worker = threading.Thread(target=packed)
    worker.start()
    worker.join()
    assert phases.take() == ({}, {}) and phases._inner == []


def test_row_opcodes_are_counted_for_each_row(monkeypatch):
    from benchmarks.cold_steps import count_row_opcodes
    from decoding.automaton import dfa
    from decoding.automaton.hir import to_expr
    from decoding.automaton.syntax import parse

    monkeypatch.setattr(dfa.Automaton, "_compute_row", dfa.Automaton._compute_row)
    counts = count_row_opcodes()
    a = dfa.Automaton(to_expr(parse("(?:ab|cd)*x")))
    a.walk(a.initial_state, b"abcd")
    assert counts["rows"] == 3 and counts["opcode"] > 10 * counts["call"] > 0
