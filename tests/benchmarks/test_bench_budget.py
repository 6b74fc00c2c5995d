"""The budget benchmark's own logic, without a model (`benchmarks.budget`): one call per mode,
a returned but invalid text and `IncompleteGeneration` both count as not valid, and the table's
totals."""

from __future__ import annotations

from benchmarks import budget
from benchmarks.e2e import Workload
from decoding.errors import IncompleteGeneration

WORKLOAD = Workload("w", "prompt", r"\{\}|x")


class FakeGenerator:
    """`complete` returns `text` for "finish" and raises for "raise"."""

    def __init__(self, text: str):
        self.text = text

    def complete(self, prompt, *, max_new_tokens, on_length, regex):
        if on_length == "raise":
            raise IncompleteGeneration("ran out", "{", max_new_tokens)
        from decoding.hf.generation import Completion

        return Completion(self.text, self.text, 3, "length")


def test_runs_and_table():
    runs = [budget.run_mode(FakeGenerator("{}"), WORKLOAD, 8, mode) for mode in budget.MODES]
    assert [(r["mode"], r["valid"], r["tokens"]) for r in runs] == [("raise", False, 8),
                                                                   ("finish", True, 3)]
    text = budget.table(runs, 8)
    assert "| w | no object, 8 tokens (IncompleteGeneration) | valid, 3 tokens (length) |" in text
    assert "**0 of 1** | **1 of 1**" in text


def test_an_invalid_text_is_not_valid():
    assert not budget.run_mode(FakeGenerator("y"), WORKLOAD, 8, "finish")["valid"]
