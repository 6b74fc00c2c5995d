"""benchmarks.warm_phases' report: medians over cases 2.. of each run, phases and "other"."""

from benchmarks.warm_phases import markdown


def _result() -> dict:
    # Case 1 (left out of every median) is far slower, as a fresh process's first case is.
    return {
        "model": "m", "path": "core",
        "untimed": {"ns": [9_000_000, 500_000, 700_000, 600_000], "walks": 0,
                    "again": [8_000_000, 400_000, 450_000, 420_000]},
        "phases": {"ns": [9_000_000, 600_000, 800_000, 700_000],
                   "phases": [{"a": 1}, {"a": 100_000}, {"a": 300_000}, {"a": 200_000}]},
        "unwalked": {"ns": [5_000_000, 610_000, 620_000, 630_000]},
        "walked": {"ns": [5_000_000, 640_000, 660_000, 650_000]},
    }


def test_the_report_gives_each_runs_median_without_the_first_case():
    text = markdown(_result())
    assert "untimed: median 600 us (cases 2..4), first case 9000 us" in text
    assert "memos emptied: median 420 us" in text
    assert "with the phase timers: median 700 us" in text
    assert "median 620 us without walking the instances, 650 us walking them" in text


def test_other_is_the_case_time_the_phases_leave():
    lines = markdown(_result()).splitlines()
    assert "| a | 200 | 200 |" in lines
    assert "| other | 500 | 500 |" in lines
