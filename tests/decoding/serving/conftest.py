"""Prints why the vLLM end-to-end tests were skipped (pytest -q shows only an "s" otherwise)."""

from __future__ import annotations

import importlib.util


def pytest_terminal_summary(terminalreporter) -> None:
    if importlib.util.find_spec("vllm") is None and any(
            "test_vllm_e2e" in report.nodeid
            for report in terminalreporter.stats.get("skipped", [])):
        terminalreporter.write_line("vLLM end-to-end tests skipped: vLLM is not installed here "
                                    "(.ci/run tests them in a virtualenv of its own)")
