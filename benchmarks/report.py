"""Turns `supervisor.EngineRun`s into figures, a markdown report and a PNG chart.

Contract:
- `summarize(run, ids)` counts over the tasks whose id is in `ids` (all tasks when None):
  compiled = status "ok"; first-mask percentiles over compiled tasks; per-mask percentiles over
  every step of every valid instance of compiled tasks; valid accepted out of all valid instances
  (an instance of a schema the engine could not compile is not accepted); invalid accepted out of
  the invalid instances of compiled tasks.
- `common_ids(runs)`: the ids every run compiled (the fair subset for head-to-head figures);
  `ratio_table` compares each engine with the baseline on the cases those two both compiled.
- Percentiles use numpy's default (linear) interpolation; missing figures print as "-".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.supervisor import EngineRun

BASELINE = "llguidance"
FAILURE_EXAMPLES = 3


@dataclass
class Summary:
    label: str
    version: str
    setup_s: float | None
    unavailable: str
    tasks: int
    statuses: Counter
    first_mask_ms: np.ndarray
    step_us: np.ndarray
    valid_accepted: int
    valid_total: int
    invalid_accepted: int
    invalid_tested: int

    @property
    def compiled(self) -> int:
        return self.statuses["ok"]


def summarize(run: EngineRun, ids: set[str] | None = None) -> Summary:
    """Figures of `run` over the tasks in `ids` (see the module contract)."""
    results = [r for r in run.results if ids is None or r["id"] in ids]
    ok = [r for r in results if r["status"] == "ok"]
    steps = [ns for r in ok for ns in r["step_ns"]]
    return Summary(
        label=run.label, version=run.version, setup_s=run.setup_s, unavailable=run.unavailable,
        tasks=len(results), statuses=Counter(r["status"] for r in results),
        first_mask_ms=np.array([r["first_mask_s"] * 1e3 for r in ok]),
        step_us=np.array(steps, dtype=float) / 1e3,
        valid_accepted=sum(r["valid_accepted"] for r in ok),
        valid_total=sum(r["valid_total"] for r in results),
        invalid_accepted=sum(r["invalid_accepted"] for r in ok),
        invalid_tested=sum(r["invalid_total"] for r in ok),
    )


def common_ids(runs: list[EngineRun]) -> set[str]:
    """Ids of the tasks that every run compiled."""
    sets = [{r["id"] for r in run.results if r["status"] == "ok"} for run in runs]
    return set.intersection(*sets) if sets else set()


def percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def main_table(summaries: list[Summary]) -> str:
    """The headline table: one row per engine."""
    head = ("| engine | version | setup s | compiled | first mask ms p50 / p90 / max "
            "| mask us p50 / p90 / p99 / max | valid accepted | invalid accepted "
            "| timeouts / crashes / skipped |")
    rows = [head, _rule(head)]
    for s in summaries:
        fm, st = s.first_mask_ms, s.step_us
        rows.append(
            f"| {s.label} | {s.version or '-'} | {_fmt(s.setup_s)} | {s.compiled}/{s.tasks} "
            f"| {_fmt(percentile(fm, 50))} / {_fmt(percentile(fm, 90))} / "
            f"{_fmt(fm.max() if fm.size else None)} "
            f"| {_fmt(percentile(st, 50))} / {_fmt(percentile(st, 90))} / "
            f"{_fmt(percentile(st, 99))} / {_fmt(st.max() if st.size else None)} "
            f"| {s.valid_accepted}/{s.valid_total} | {s.invalid_accepted}/{s.invalid_tested} "
            f"| {s.statuses['timeout']} / {s.statuses['crash']} / {s.statuses['skipped']} |")
    return "\n".join(rows)


def ratio_table(runs: list[EngineRun], baseline: str = BASELINE) -> str:
    """Each engine's first-mask p50 and per-mask p50 / p99 / mean as multiples of the baseline's,
    each pair compared on the cases both compiled."""
    base = next((run for run in runs if run.label == baseline and not run.unavailable), None)
    if base is None:
        return f"(no {baseline} run: no ratios)"
    head = "| engine | cases both compiled | first mask p50 | mask p50 | mask p99 | mask mean |"
    rows = [head, _rule(head)]
    for run in runs:
        if run.unavailable or run is base:
            continue
        ids = common_ids([run, base])
        s, b = summarize(run, ids), summarize(base, ids)
        rows.append(
            f"| {run.label} | {len(ids)} "
            f"| {_ratio(percentile(s.first_mask_ms, 50), percentile(b.first_mask_ms, 50))} "
            f"| {_ratio(percentile(s.step_us, 50), percentile(b.step_us, 50))} "
            f"| {_ratio(percentile(s.step_us, 99), percentile(b.step_us, 99))} "
            f"| {_ratio(_mean(s.step_us), _mean(b.step_us))} |")
    return "\n".join(rows)


def failures(runs: list[EngineRun]) -> str:
    """Per engine: counts of each non-ok status and a few example messages."""
    lines = []
    for run in runs:
        bad = [r for r in run.results if r["status"] != "ok" or r.get("message")]
        if run.unavailable:
            lines.append(f"- **{run.label}** unavailable: {run.unavailable}")
            continue
        counts = Counter(r["status"] for r in run.results if r["status"] != "ok")
        rejected = sum(1 for r in run.results
                       if r["status"] == "ok" and r["valid_accepted"] < r["valid_total"])
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        lines.append(f"- **{run.label}**: {summary or 'all compiled'}; "
                     f"{rejected} compiled cases rejected some valid instance")
        for r in bad[:FAILURE_EXAMPLES]:
            lines.append(f"  - `{r['id']}` {r['status']}: {r['message']}")
    return "\n".join(lines)


def _rule(head: str) -> str:
    return "|" + "---|" * (head.count("|") - 1)


def chart(summaries: list[Summary], path: Path, title: str) -> None:
    """Box plots (log scale, whiskers at p1 / p99, no outliers) of first-mask and per-mask times."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in summaries if s.first_mask_ms.size]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.6 * max(len(shown), 3) + 1.8))
    panels = [(axes[0], "time to first mask (ms)", [s.first_mask_ms for s in shown]),
              (axes[1], "time per mask along valid instances (us)",
               [s.step_us if s.step_us.size else np.array([np.nan]) for s in shown])]
    labels = [f"{s.label}\n{s.compiled}/{s.tasks} compiled" for s in shown]
    for ax, name, data in panels:
        ax.boxplot(data, orientation="horizontal", whis=(1, 99), showfliers=False,
                   tick_labels=labels)
        ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.invert_yaxis()
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[1].set_yticklabels([])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
