"""Figures, markdown and chart for the end-to-end benchmark (`benchmarks.e2e`); no model here.

Contract:
- A `Run` is one engine on one workload: `tokens` new tokens in `seconds` of wall time (prompt
  processing included); both None when the engine did not run (`note` says why). `finished`: a
  complete output within the token cap; `valid`: it validates (jsonschema for a schema, regex
  fullmatch for the regex); None where that does not apply (the unconstrained baseline, a run cut
  short on purpose).
- Every ratio is taken within one workload against that workload's `BASELINE` run (or another
  engine's run on the same workload), then summarized over workloads as a geometric mean with its
  min and max. A workload where either side is missing is left out, and the count says so.
- "time vs unconstrained" is shown only where the run produced as many tokens as the baseline
  (then it is the time-to-object ratio for the same output); "tokens/s vs unconstrained" always.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

BASELINE = "unconstrained"
TYPEDECODE = "typedecode"
TYPEDECODE_COLD = "typedecode-cold"
LMFE = "lm-format-enforcer"
RELLM = "rellm"
ENGINES = (BASELINE, TYPEDECODE, TYPEDECODE_COLD, LMFE, RELLM)
LABELS = {
    BASELINE: "model.generate, unconstrained",
    TYPEDECODE: "typedecode (warm)",
    TYPEDECODE_COLD: "typedecode (first call, cold)",
    LMFE: "lm-format-enforcer",
    RELLM: "RELLM",
}
RELLM_TARGET = 20.0


@dataclass(frozen=True)
class Run:
    """One engine on one workload (see the module contract)."""

    workload: str
    engine: str
    tokens: int | None
    seconds: float | None
    finished: bool | None = None
    valid: bool | None = None
    note: str = ""
    text: str = ""

    @property
    def rate(self) -> float | None:
        """New tokens per second, or None when the engine did not run."""
        if not self.tokens or not self.seconds:
            return None
        return self.tokens / self.seconds


@dataclass(frozen=True)
class Summary:
    """A ratio over workloads: geometric mean, min, max and how many workloads it covers."""

    label: str
    mean: float | None
    low: float | None
    high: float | None
    count: int


def summarize(label: str, values: Iterable[float]) -> Summary:
    """The geometric mean, min and max of positive `values` (all None when there are none)."""
    kept = [v for v in values if v is not None and v > 0]
    if not kept:
        return Summary(label, None, None, None, 0)
    mean = math.exp(sum(math.log(v) for v in kept) / len(kept))
    return Summary(label, mean, min(kept), max(kept), len(kept))


def by_workload(runs: Iterable[Run]) -> dict[str, dict[str, Run]]:
    """Runs grouped as {workload: {engine: run}}, workloads in first-seen order."""
    grouped: dict[str, dict[str, Run]] = {}
    for run in runs:
        grouped.setdefault(run.workload, {})[run.engine] = run
    return grouped


def rate_ratio(run: Run | None, other: Run | None) -> float | None:
    """tokens/s of `run` over tokens/s of `other` (None when either did not run)."""
    if run is None or other is None or run.rate is None or other.rate is None:
        return None
    return run.rate / other.rate


def time_ratio(run: Run | None, base: Run | None) -> float | None:
    """Wall time of `run` over `base`'s, only where both produced the same number of tokens."""
    if run is None or base is None or run.seconds is None or base.seconds is None \
            or run.tokens != base.tokens or not base.seconds:
        return None
    return run.seconds / base.seconds


def _completed(run: Run | None) -> bool:
    return run is not None and bool(run.finished) and bool(run.valid)


def headline(runs: Iterable[Run]) -> list[Summary]:
    """The ratios the README quotes, each over the workloads where it is defined."""
    groups = list(by_workload(runs).values())

    def over(pick: Callable[[dict[str, Run]], float | None]) -> list[float]:
        return [v for v in (pick(g) for g in groups) if v is not None]

    def object_time(g: dict[str, Run], engine: str) -> float | None:
        run, typed = g.get(engine), g.get(TYPEDECODE)
        if not (_completed(run) and _completed(typed)) or not typed.seconds:
            return None
        return run.seconds / typed.seconds

    return [
        summarize("typedecode (warm): time to a finished object ÷ model.generate, same tokens",
                  over(lambda g: time_ratio(g.get(TYPEDECODE), g.get(BASELINE))
                       if _completed(g.get(TYPEDECODE)) else None)),
        summarize("typedecode (first call, cold): time ÷ model.generate, same tokens",
                  over(lambda g: time_ratio(g.get(TYPEDECODE_COLD), g.get(BASELINE))
                       if _completed(g.get(TYPEDECODE_COLD)) else None)),
        summarize("typedecode (warm) tokens/s ÷ model.generate tokens/s",
                  over(lambda g: rate_ratio(g.get(TYPEDECODE), g.get(BASELINE)))),
        summarize("lm-format-enforcer tokens/s ÷ model.generate tokens/s",
                  over(lambda g: rate_ratio(g.get(LMFE), g.get(BASELINE)))),
        summarize("lm-format-enforcer time to a finished object ÷ typedecode (warm)",
                  over(lambda g: object_time(g, LMFE))),
        summarize(f"typedecode (warm) tokens/s ÷ RELLM tokens/s (target ≥ {RELLM_TARGET:g}x)",
                  over(lambda g: rate_ratio(g.get(TYPEDECODE), g.get(RELLM)))),
    ]


def completion_counts(runs: Iterable[Run]) -> dict[str, tuple[int, int]]:
    """Per engine that can finish an object: (finished and valid, workloads it ran on)."""
    counts: dict[str, tuple[int, int]] = {}
    for run in runs:
        if run.engine == BASELINE or run.finished is None:
            continue
        done, total = counts.get(run.engine, (0, 0))
        counts[run.engine] = (done + _completed(run), total + 1)
    return counts


def fmt_ratio(value: float | None) -> str:
    """A ratio as text: two significant decimals below 10, whole numbers above; "-" if None."""
    if value is None:
        return "-"
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def headline_table(summaries: list[Summary]) -> str:
    """The headline ratios as a markdown table."""
    lines = ["| ratio (per workload, same run) | geometric mean | min | max | workloads |",
             "|---|---:|---:|---:|---:|"]
    for s in summaries:
        lines.append(f"| {s.label} | {fmt_ratio(s.mean)} | {fmt_ratio(s.low)} | "
                     f"{fmt_ratio(s.high)} | {s.count} |")
    return "\n".join(lines)


def runs_table(runs: Iterable[Run]) -> str:
    """Every run as a markdown table row, with its ratios to the workload's baseline."""
    lines = ["| workload | engine | new tokens | finished | valid | wall s | tokens/s "
             "| tokens/s vs unconstrained | time vs unconstrained | note |",
             "|---|---|---:|---|---|---:|---:|---:|---:|---|"]
    for workload, group in by_workload(runs).items():
        base = group.get(BASELINE)
        for engine in ENGINES:
            run = group.get(engine)
            if run is None:
                continue
            lines.append(
                f"| {workload} | {LABELS[engine]} | {_fmt(run.tokens, 0)} | "
                f"{_yes_no(run.finished)} | {_yes_no(run.valid)} | {_fmt(run.seconds, 2)} | "
                f"{_fmt(run.rate, 1)} | {fmt_ratio(rate_ratio(run, base))} | "
                f"{fmt_ratio(time_ratio(run, base))} | {run.note.replace('|', '/')} |")
    return "\n".join(lines)


def chart(runs: list[Run], path: Path, title: str) -> None:
    """Grouped bars (log scale) of each engine's tokens/s over the unconstrained baseline's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = by_workload(runs)
    engines = [e for e in ENGINES if e != BASELINE]
    names = list(groups)
    width = 0.8 / len(engines)
    fig, ax = plt.subplots(figsize=(max(8.0, 0.9 * len(names) + 3), 5.2))
    for k, engine in enumerate(engines):
        values = [rate_ratio(groups[n].get(engine), groups[n].get(BASELINE)) for n in names]
        xs = [i + (k - (len(engines) - 1) / 2) * width for i in range(len(names))]
        ax.bar([x for x, v in zip(xs, values) if v], [v for v in values if v], width,
               label=LABELS[engine])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("tokens/s ÷ unconstrained model.generate tokens/s")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=35, ha="right", fontsize=7)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(engines), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _counts_line(runs: list[Run], cap: int) -> str:
    counts = completion_counts(runs)
    parts = [f"{LABELS[e]} {counts[e][0]}/{counts[e][1]}" for e in ENGINES if e in counts]
    return (f"Finished a valid object within the cap of {cap} new tokens (out of the workloads "
            f"where the engine ran to the end): " + ", ".join(parts) + ".")


def _target_line(summaries: list[Summary]) -> str:
    rellm = summaries[-1]
    if rellm.mean is None:
        return "RELLM target: not measured (RELLM did not run)."
    verdict = "met" if rellm.low >= RELLM_TARGET else \
        ("met on average" if rellm.mean >= RELLM_TARGET else "not met")
    return (f"RELLM target (typedecode ≥ {RELLM_TARGET:g}x RELLM's tokens/s): {verdict} "
            f"(geometric mean {fmt_ratio(rellm.mean)}, min {fmt_ratio(rellm.low)} over "
            f"{rellm.count} workloads).")


def _lmfe_line(setup_s: float | None) -> str:
    if setup_s is None:
        return "- lm-format-enforcer was left out of this run (`--no-lmfe`)."
    return (f"- lm-format-enforcer's tokenizer data is built once before the runs "
            f"({setup_s:.1f} s, not in the times); its parser is built in each call, as its "
            f"transformers integration is used.")


def markdown(meta: dict, runs: list[Run], summaries: list[Summary]) -> str:
    """The whole report: headline, how to read it, workloads, every run, compatibility notes."""
    settings, versions = meta["settings"], meta["versions"]
    rellm_table = meta.get("rellm_token_table_s")
    table_note = f" (here {rellm_table:.2f} s)" if rellm_table is not None else ""
    return "\n".join([
        "# End-to-end generation: time to a finished object",
        "",
        f"Command: `{meta['command']}` (from the repository root). Date: {meta['date']}. "
        f"Machine: {meta['machine']}; torch threads: {settings['threads']}. "
        f"Model: {meta['model']}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items()) + ". "
        f"Wall time of the whole run: {meta['total_s'] / 60:.1f} min.",
        "",
        "## Headline ratios",
        "",
        headline_table(summaries),
        "",
        _counts_line(runs, settings["max_new_tokens"]),
        _target_line(summaries),
        "",
        "## How to read it",
        "",
        "- Every ratio is taken within one workload, from runs in the same process (typedecode "
        "and model.generate interleaved), then summarized over workloads as a geometric mean "
        "with min and max. The machine is shared, so absolute times are noisy; compare ratios.",
        "- Wall time includes prompt processing; tokens/s = new tokens / wall time, so short "
        "outputs after long prompts give low tokens/s for every engine.",
        f"- model.generate (unconstrained, greedy) is run for exactly as many tokens as "
        f"typedecode produced; its time is the baseline. typedecode warm: lower median of "
        f"{settings['repeats']} calls after the first (the baseline likewise); first call: an "
        f"empty disk cache, so the automaton and masks are built during the call (the "
        f"vocabulary table was built before timing).",
        "- typedecode's token count includes the tokens jump-forward feeds without a sampling "
        "step (text the pattern forces), so its tokens/s can exceed the unconstrained model's.",
        "- \"time vs unconstrained\" is shown only for runs with the baseline's token count. "
        "lm-format-enforcer writes its own output (free JSON whitespace, its own choices), so "
        "it is compared by tokens/s and by time to a finished object against typedecode.",
        f"- RELLM re-encodes prompt + completion and scans the whole vocabulary with a partial "
        f"regex match for every token, and rebuilds its token-text table on every call"
        f"{table_note}, included in its time. On schema workloads it runs for the first "
        f"{settings['rellm_tokens']} tokens only: its tokens/s is measured on those, its time "
        f"to a finished object is not measured (the note gives a linear extrapolation to "
        f"typedecode's token count, which understates it: each step's forward pass and scan "
        f"grow with the completion, so its tokens/s over a whole object would be lower and the "
        f"typedecode ÷ RELLM ratio higher). On the RELLM prompt it runs to the finished object. "
        f"Its note also gives the time of one vocabulary scan after its last token.",
        "- lm-format-enforcer failures during generation (an exception, or an error it logs "
        "before allowing only EOS) are recorded in its note; such a run counts as not valid.",
        _lmfe_line(meta.get("lmfe_tokenizer_data_s")),
        "",
        "## Workloads",
        "",
        meta["selection"],
        "",
        "## All runs",
        "",
        runs_table(runs),
        "",
        "## Compatibility notes",
        "",
        *[f"- {note}" for note in meta["notes"]],
        "",
    ])
