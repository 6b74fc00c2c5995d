"""End-to-end generation on an embedded model (default SmolLM2-135M-Instruct; `--model
gemma3-270m` for Gemma 3 270M's 262,144-token vocabulary): wall time to a finished object and
tokens/s for unconstrained `model.generate`, typedecode, lm-format-enforcer's
transformers integration and the RELLM package, in one process, on the same prompts.

Workloads: the RELLM LangChain prompt with its agent-action regex (`decoding.cli`), and
`--schemas` dev-set JSON Schemas chosen by `select_schemas`: the `POOL_SIZE` schemas that
`benchmarks.cases.sample_schemas(seed=--seed)` draws (stratified by file), kept when the schema
is an object schema of at most `MAX_SCHEMA_CHARS` characters of compact JSON whose shortest valid
test instance has at most `MAX_INSTANCE_CHARS` characters (modest prompts and outputs), and
schema2re translates it, typedecode builds its automaton, the `regex` module compiles the
translation (RELLM's pattern) and lm-format-enforcer builds a `JsonSchemaParser`; then `--schemas`
of them at evenly spaced positions of that list. A schema prompt is the model's chat template
around one user message asking for a JSON object valid against the schema (schema JSON included);
for a model without a chat template (Gemma 3 270M, a base model) it is that message followed by a
blank line.
Every engine gets the same prompt text, greedy decoding and the same `--max-new-tokens` cap.

Engines, per workload:
- typedecode: `Generator.complete(prompt, schema=... | regex=...)` on a generator over the same
  model with an empty temporary disk cache (vocabulary table built before timing). The first call
  is reported as "cold" (automaton and masks built during the call); the warm figure is the lower
  median of `--repeats` later calls (with 2, the faster one).
- model.generate, unconstrained: greedy with `min_new_tokens = max_new_tokens =` typedecode's
  token count (the baseline of every ratio; lower median of `--repeats` runs, interleaved with
  typedecode's).
- lm-format-enforcer: `build_transformers_prefix_allowed_tokens_fn` (JsonSchemaParser, or
  RegexParser for the regex) as `prefix_allowed_tokens_fn` of `model.generate`; the tokenizer data
  is built once beforehand (reported, not in the per-call times); the parser is built per call.
  `--no-lmfe` leaves it out, of the runs and of the schema selection's checks (a machine
  without it, or a run that should not wait for it).
- RELLM: `rellm.complete_re` itself, greedy, pattern = the regex (schema2re's for a schema). Its
  cost per token is a full-vocabulary regex scan plus a forward pass over prompt + completion, so
  on schema workloads it runs for `--rellm-tokens` tokens only, and its time to a finished object
  is extrapolated (per-token time x typedecode's token count), never measured; on the RELLM
  prompt it runs to the end (up to the cap). Its generated tokens are counted with a stopping
  criterion passed through `complete_re`'s `model_kwargs`; its note gives one vocabulary scan
  (`ReTokenFilter.filter_tokens`) on the final completion, timed after the run.
  Install: rellm 0.0.5 pins transformers<5, numpy<2 and regex<2024, so pip's resolver would
  downgrade the project's stack; it is not in the `bench` extra. Install it with
  `pip install --no-deps rellm` (it runs unmodified on transformers 5); without it its rows say
  "not installed".
Validity: jsonschema (the validator the schema's `$schema` names) on the parsed output, or
`regex.fullmatch` for the regex workload. Times include prompt processing.

Outputs (in `--out`, default benchmarks/results): e2e.md (tables, command, machine, notes),
e2e.json (every run), e2e.png (tokens/s relative to the baseline). Run from the repository root:

    python -m benchmarks.e2e [--model SmolLM2-135M-Instruct] [--schemas 10] [--seed 0]
                             [--max-new-tokens 256] [--rellm-tokens 16] [--repeats 2]
                             [--threads 1] [--no-lmfe] [--out benchmarks/results]

Gemma's column (`benchmarks/results/gemma/e2e.md`):

    python -m benchmarks.e2e --model gemma3-270m --schemas 6 --rellm-tokens 0 --no-lmfe \
        --out benchmarks/results/gemma
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from benchmarks import e2e_report as report
from benchmarks.cases import DEFAULT_DATA_DIR, Case, sample_schemas
from benchmarks.e2e_report import Run

RESULTS_DIR = Path(__file__).resolve().parent / "results"
POOL_SIZE = 200
MAX_SCHEMA_CHARS = 1500
MAX_INSTANCE_CHARS = 200
RELLM_WORKLOAD = "RELLM agent action (regex)"
RELLM_INSTALL = "pip install --no-deps rellm"
SCHEMA_REQUEST = ("Write a JSON object that is valid against the JSON Schema below. Reply with "
                  "the JSON object only.\n\nJSON Schema:\n")
VERSIONED = ("typedecode", "torch", "transformers", "lm-format-enforcer", "rellm", "regex",
             "numpy")


@dataclass(frozen=True)
class Workload:
    """One prompt and its constraint: `pattern` is the regex (schema2re's translation when
    `schema` is a JSON Schema); `prompt` is the exact text every engine gets."""

    id: str
    prompt: str
    pattern: str
    schema: Any = None


# --- case selection (pure) ------------------------------------------------------------------


def spread(items: Sequence[Any], count: int) -> list[Any]:
    """`count` items (all when there are fewer) at evenly spaced positions, in order."""
    if count <= 0:
        return []
    if count >= len(items):
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]


def modest(case: Case) -> bool:
    """An object schema of at most `MAX_SCHEMA_CHARS` characters of compact JSON with a valid
    test instance of at most `MAX_INSTANCE_CHARS` characters."""
    schema = case.source
    return (isinstance(schema, dict) and schema.get("type") == "object"
            and len(json.dumps(schema, separators=(",", ":"))) <= MAX_SCHEMA_CHARS
            and any(len(v) <= MAX_INSTANCE_CHARS for v in case.valid))


def select_schemas(pool: Sequence[Case], count: int,
                   supported: Callable[[Case], bool]) -> list[Case]:
    """`count` cases of `pool` that are `modest` and `supported`, evenly spaced over the pool's
    order (see the module docstring); `supported` is only called on modest cases."""
    return spread([c for c in pool if modest(c) and supported(c)], count)


def schema_message(schema: Any) -> str:
    """The user message asking for an object valid against `schema`."""
    return SCHEMA_REQUEST + json.dumps(schema, ensure_ascii=False)


# --- engines ----------------------------------------------------------------------------------


def _supported(case: Case, lmfe: bool = True) -> bool:
    """schema2re, typedecode's automaton, `regex` and lm-format-enforcer (unless `lmfe` is false)
    all accept the schema.

    The automaton is built here without `decoding.compile`, whose in-process memo would make the
    timed first call warm."""
    import regex

    import schema2re
    from decoding.automaton.dfa import Automaton
    from decoding.automaton.hir import to_expr
    from decoding.automaton.syntax import parse
    from decoding.errors import PatternError
    from schema2re.errors import SchemaToRegexError

    try:
        pattern = schema2re.to_regex(case.source)
        Automaton(to_expr(parse(pattern)), pattern=pattern)
        regex.compile(pattern)
    except (SchemaToRegexError, PatternError, regex.error):
        return False
    if not lmfe:
        return True
    from lmformatenforcer import JsonSchemaParser

    try:
        JsonSchemaParser(case.source)
    except Exception:  # lm-format-enforcer raises bare Exceptions for what it does not support
        return False
    return True


def _validator(workload: Workload) -> Callable[[str], bool]:
    import regex

    if workload.schema is None:
        compiled = regex.compile(workload.pattern)
        return lambda text: compiled.fullmatch(text) is not None
    from jsonschema import validators

    validator = validators.validator_for(workload.schema)(workload.schema)

    def valid(text: str) -> bool:
        try:
            value = json.loads(text)
        except ValueError:
            return False
        return validator.is_valid(value)

    return valid


def _constraint(workload: Workload) -> dict[str, Any]:
    return {"regex": workload.pattern} if workload.schema is None else {"schema": workload.schema}


def time_typedecode(gen: Any, workload: Workload, cap: int, engine: str) -> Run:
    """One `gen.complete` call, timed."""
    from decoding.errors import IncompleteGeneration, TypedecodeError

    start = time.perf_counter()
    try:
        done = gen.complete(workload.prompt, max_new_tokens=cap, **_constraint(workload))
    except IncompleteGeneration as exc:
        return Run(workload.id, engine, exc.num_tokens, time.perf_counter() - start, False, False,
                   f"cap of {cap} tokens reached", exc.text)
    except TypedecodeError as exc:
        return Run(workload.id, engine, None, None, note=f"{type(exc).__name__}: {exc}"[:160])
    seconds = time.perf_counter() - start
    return Run(workload.id, engine, done.num_tokens, seconds, True,
               _validator(workload)(done.text), f"finish: {done.finish_reason}", done.text)


def time_unconstrained(model: Any, tokenizer: Any, workload: Workload, tokens: int) -> Run:
    """Greedy `model.generate` for exactly `tokens` new tokens, timed."""
    from benchmarks.generation_speed import hf_generate

    prompt_len = len(tokenizer(workload.prompt)["input_ids"])
    start = time.perf_counter()
    out = hf_generate(model, tokenizer, workload.prompt, tokens)
    return Run(workload.id, report.BASELINE, out.shape[1] - prompt_len,
               time.perf_counter() - start)


def time_lmfe(model: Any, tokenizer: Any, data: Any, workload: Workload, cap: int) -> Run:
    """`model.generate` with lm-format-enforcer's prefix function, parser built in the call."""
    import torch
    from lmformatenforcer import JsonSchemaParser, RegexParser

    from benchmarks.engines.lm_format_enforcer import integration

    ids = tokenizer(workload.prompt, return_tensors="pt")
    start = time.perf_counter()
    with _logged_errors() as errors:
        try:
            parser = RegexParser(workload.pattern) if workload.schema is None \
                else JsonSchemaParser(workload.schema)
            allowed = integration().build_transformers_prefix_allowed_tokens_fn(data, parser)
            with torch.inference_mode():
                out = model.generate(**ids, max_new_tokens=cap, do_sample=False,
                                     prefix_allowed_tokens_fn=allowed,
                                     pad_token_id=tokenizer.eos_token_id)
        except Exception as exc:  # record any failure of the peer, never crash the benchmark
            return Run(workload.id, report.LMFE, None, None,
                       note=f"error: {type(exc).__name__}: {exc}"[:160])
    seconds = time.perf_counter() - start
    new = out[0, ids["input_ids"].shape[1]:].tolist()
    text = tokenizer.decode(new, skip_special_tokens=True)
    finished = bool(new) and new[-1] == tokenizer.eos_token_id
    notes = [] if finished else [f"cap of {cap} tokens reached"]
    if errors:  # it logs parser failures and then allows only EOS
        notes.append(f"it logged {len(errors)} error(s), first: {errors[0]}"[:160])
    return Run(workload.id, report.LMFE, len(new), seconds, finished,
               _validator(workload)(text), "; ".join(notes), text)


@contextlib.contextmanager
def _logged_errors() -> Iterator[list[str]]:
    """Collect (instead of printing) the errors logged through the root logger meanwhile."""
    errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            exc = record.exc_info[1] if record.exc_info else None
            errors.append(f"{type(exc).__name__}: {exc}" if exc is not None
                          else record.getMessage().splitlines()[0])

    handler = Collect(logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield errors
    finally:
        root.removeHandler(handler)


def _step_counter() -> Any:
    """A stopping criterion that never stops and counts its calls (one per generated token)."""
    import torch
    from transformers import StoppingCriteria

    class StepCounter(StoppingCriteria):
        def __init__(self) -> None:
            self.steps = 0

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            self.steps += 1
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return StepCounter()


def time_rellm(model: Any, tokenizer: Any, workload: Workload, steps: int, cap: int,
               typedecode_tokens: int | None) -> Run:
    """`rellm.complete_re` for at most `steps` tokens, timed (see the module docstring)."""
    import regex
    from transformers import StoppingCriteriaList

    try:
        import rellm
    except ImportError:
        return Run(workload.id, report.RELLM, None, None, note=f"not installed ({RELLM_INSTALL})")
    counter = _step_counter()
    start = time.perf_counter()
    try:
        text = rellm.complete_re(prompt=workload.prompt, pattern=regex.compile(workload.pattern),
                                 tokenizer=tokenizer, model=model, max_new_tokens=steps,
                                 do_sample=False,
                                 stopping_criteria=StoppingCriteriaList([counter]))
    except Exception as exc:  # record any failure of the peer, never crash the benchmark
        return Run(workload.id, report.RELLM, None, None,
                   note=f"error: {type(exc).__name__}: {exc}"[:160])
    seconds = time.perf_counter() - start
    scan = _scan_seconds(rellm, tokenizer, workload.pattern, text)
    matched = regex.fullmatch(workload.pattern, text) is not None
    if matched or steps >= cap:
        return Run(workload.id, report.RELLM, counter.steps, seconds, matched,
                   _validator(workload)(text) if matched else False,
                   f"run to the end; last vocabulary scan {scan * 1000:.0f} ms", text)
    note = (f"first {counter.steps} tokens only (--rellm-tokens); last vocabulary scan "
            f"{scan * 1000:.0f} ms")
    if typedecode_tokens and counter.steps:
        estimate = seconds / counter.steps * typedecode_tokens
        note += f"; {typedecode_tokens} tokens extrapolated: ~{estimate:.0f} s"
    return Run(workload.id, report.RELLM, counter.steps, seconds, None, None, note, text)


def _scan_seconds(rellm: Any, tokenizer: Any, pattern: str, completion: str) -> float:
    """The time of one RELLM vocabulary scan after `completion` (its table built untimed)."""
    import regex

    token_filter = rellm.ReTokenFilter(tokenizer)
    start = time.perf_counter()
    token_filter.filter_tokens(completion, regex.compile(pattern))
    return time.perf_counter() - start


# --- the run ----------------------------------------------------------------------------------


def schema_prompt(tokenizer: Any, schema: Any) -> str:
    """The prompt of a schema workload: the chat template around `schema_message`, or the message
    and a blank line for a tokenizer without a chat template."""
    message = schema_message(schema)
    if not getattr(tokenizer, "chat_template", None):
        return message + "\n\n"
    return tokenizer.apply_chat_template([{"role": "user", "content": message}], tokenize=False,
                                         add_generation_prompt=True)


def build_workloads(tokenizer: Any, count: int, seed: int, data_dir: Path = DEFAULT_DATA_DIR,
                    lmfe: bool = True) -> list[Workload]:
    """The RELLM workload, then the selected schemas with their prompts (`schema_prompt`);
    without `lmfe`, lm-format-enforcer's acceptance is left out of the selection."""
    import schema2re
    from decoding.examples import RELLM_PROMPT, RELLM_REGEX

    workloads = [Workload(RELLM_WORKLOAD, RELLM_PROMPT, RELLM_REGEX)]
    for case in select_schemas(sample_schemas(data_dir, POOL_SIZE, seed), count,
                               lambda case: _supported(case, lmfe)):
        workloads.append(Workload(case.id, schema_prompt(tokenizer, case.source),
                                  schema2re.to_regex(case.source), case.source))
    return workloads


def _median_run(runs: list[Run]) -> Run:
    """The run of lower-median wall time (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r.seconds if r.seconds is not None else float("inf"))
    return ordered[(len(ordered) - 1) // 2]


def measure(workload: Workload, gen: Any, lmfe_data: Any, args: argparse.Namespace,
            log: Callable[[str], None]) -> list[Run]:
    """Every engine on one workload (see the module docstring for the order and repeats)."""
    model, tokenizer = gen.model, gen.tokenizer
    cold = time_typedecode(gen, workload, args.max_new_tokens, report.TYPEDECODE_COLD)
    log(f"  typedecode first call: {cold.tokens} tokens, {cold.seconds or 0:.1f} s {cold.note}")
    n = cold.tokens or args.max_new_tokens
    warm, base = [], []
    for _ in range(args.repeats):
        warm.append(time_typedecode(gen, workload, args.max_new_tokens, report.TYPEDECODE))
        base.append(time_unconstrained(model, tokenizer, workload, n))
    runs = [cold, _median_run(warm), _median_run(base)]
    log(f"  typedecode warm {runs[1].seconds or 0:.1f} s, model.generate "
        f"{runs[2].seconds:.1f} s for {n} tokens")
    if lmfe_data is not None:
        runs.append(time_lmfe(model, tokenizer, lmfe_data, workload, args.max_new_tokens))
        log(f"  lm-format-enforcer: {runs[-1].tokens} tokens, {runs[-1].seconds or 0:.1f} s "
            f"{runs[-1].note}")
    if args.rellm_tokens > 0:
        steps = args.max_new_tokens if workload.schema is None else args.rellm_tokens
        runs.append(time_rellm(model, tokenizer, workload, steps, args.max_new_tokens,
                               runs[1].tokens))
        log(f"  RELLM: {runs[-1].tokens} tokens, {runs[-1].seconds or 0:.1f} s {runs[-1].note}")
    return runs


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _rellm_table_seconds(tokenizer: Any) -> float | None:
    """How long RELLM's per-call token table (`ReTokenFilter`) takes to build, or None."""
    try:
        from rellm import ReTokenFilter
    except ImportError:
        return None
    start = time.perf_counter()
    ReTokenFilter(tokenizer)
    return time.perf_counter() - start


def selection_text(workloads: list[Workload], args: argparse.Namespace) -> str:
    """The selection rule and the chosen workloads, for the report."""
    lines = [f"The RELLM LangChain prompt (completion style) with its agent-action regex, and "
             f"{len(workloads) - 1} dev-set schemas: of the {POOL_SIZE} that "
             f"`benchmarks.cases.sample_schemas(seed={args.seed})` draws (stratified by file), "
             f"those that are object schemas of at most {MAX_SCHEMA_CHARS} characters (compact "
             f"JSON) with a valid test instance of at most {MAX_INSTANCE_CHARS} characters, and "
             f"that schema2re, typedecode's automaton, `regex.compile` (RELLM)"
             + (" and lm-format-enforcer's JsonSchemaParser all accept" if args.lmfe
                else " all accept (lm-format-enforcer left out: `--no-lmfe`)")
             + f"; {args.schemas} of them at "
             f"evenly spaced positions. Prompt: the chat template around the message "
             f"{SCHEMA_REQUEST!r} + the schema's JSON.", ""]
    lines += [f"- `{w.id}`: " + ("regex" if w.schema is None else
                                 f"schema of {len(json.dumps(w.schema))} characters")
              + f", regex of {len(w.pattern)} characters" for w in workloads]
    return "\n".join(lines)


def compatibility_notes() -> list[str]:
    """What was needed to run the peers on this stack (nothing was re-implemented)."""
    versions = {d: _version(d) for d in VERSIONED}
    if versions["rellm"] == "not installed":
        rellm = f"rellm is not installed, so its rows are empty; install it with `{RELLM_INSTALL}`."
    else:
        rellm = (f"rellm {versions['rellm']} pins transformers<5, numpy<2 and regex<2024; it was "
                 f"installed with `{RELLM_INSTALL}` and its `complete_re` ran unmodified on "
                 f"transformers {versions['transformers']}, numpy {versions['numpy']} and regex "
                 f"{versions['regex']} (nothing re-implemented). Greedy via `do_sample=False`; "
                 f"its tokens are counted by a stopping criterion passed through its "
                 f"`model_kwargs`.")
    lmfe = (f"lm-format-enforcer {versions['lm-format-enforcer']} imports "
            f"`PreTrainedTokenizerBase` from `transformers.tokenization_utils`, which "
            f"transformers 5 no longer exports; `benchmarks.engines.lm_format_enforcer` adds that "
            f"one name back before importing its transformers integration (nothing else changed).")
    return [rellm, lmfe]


def write_results(out: Path, meta: dict, workloads: list[Workload], runs: list[Run]) -> None:
    """e2e.json, e2e.md and e2e.png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    summaries = report.headline(runs)
    record = {**meta, "workloads": [{"id": w.id, "schema": w.schema,
                                     "regex_chars": len(w.pattern)} for w in workloads],
              "runs": [asdict(r) for r in runs], "headline": [asdict(s) for s in summaries]}
    (out / "e2e.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n",
                                  encoding="utf-8")
    report.chart(runs, out / "e2e.png",
                 f"{meta['model']}, tokens/s relative to unconstrained model.generate "
                 f"(log scale; prompt processing included)")
    (out / "e2e.md").write_text(report.markdown(meta, runs, summaries), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    from decoding.hf.embedded import DEFAULT, EMBEDDED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT.name, choices=sorted(EMBEDDED),
                        help=f"an embedded model (default {DEFAULT.name})")
    parser.add_argument("--schemas", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--rellm-tokens", type=int, default=16,
                        help="RELLM tokens per schema workload (0: skip RELLM)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--lmfe", action=argparse.BooleanOptionalAction, default=True,
                        help="run lm-format-enforcer (--no-lmfe: leave it out)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.max_new_tokens < 1 or args.schemas < 0:
        parser.error("--repeats and --max-new-tokens must be >= 1, --schemas >= 0")

    import torch

    from benchmarks.engines.lm_format_enforcer import integration
    from decoding import Generator

    torch.set_num_threads(args.threads)
    began = time.perf_counter()

    def log(line: str) -> None:
        print(f"[{time.perf_counter() - began:6.0f} s] {line}", flush=True)

    default = Generator(args.model)
    log(f"model {default.name} loaded; torch threads {torch.get_num_threads()}")
    workloads = build_workloads(default.tokenizer, args.schemas, args.seed, lmfe=args.lmfe)
    log(f"{len(workloads)} workloads: " + ", ".join(w.id for w in workloads))
    start = time.perf_counter()
    lmfe_data = integration().build_token_enforcer_tokenizer_data(default.tokenizer) \
        if args.lmfe else None
    lmfe_setup = time.perf_counter() - start if args.lmfe else None
    rellm_table = _rellm_table_seconds(default.tokenizer)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="typedecode-e2e-") as cache_dir:
        gen = Generator((default.model, default.tokenizer), cache_dir=cache_dir)
        gen.vocabulary  # the table every later call reuses; built before any timing
        for i, workload in enumerate(workloads, 1):
            log(f"workload {i}/{len(workloads)}: {workload.id}")
            runs.extend(measure(workload, gen, lmfe_data, args, log))
    total = time.perf_counter() - began
    meta = {
        "command": " ".join(["python -m benchmarks.e2e",
                             *(sys.argv[1:] if argv is None else argv)]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_name()}, {os.cpu_count()} CPUs, {platform.system()} "
                   f"{platform.release()}",
        "model": default.name,
        "settings": vars(args) | {"out": str(args.out)},
        "versions": {d: _version(d) for d in VERSIONED},
        "selection": selection_text(workloads, args),
        "notes": compatibility_notes(),
        "lmfe_tokenizer_data_s": lmfe_setup,
        "rellm_token_table_s": rellm_table,
        "total_s": total,
    }
    write_results(args.out, meta, workloads, runs)
    print()
    print(report.headline_table(report.headline(runs)))
    log(f"done; results in {args.out}")


if __name__ == "__main__":
    main()
