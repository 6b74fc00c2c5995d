"""Wall time of one batch of mixed regex/schema requests in vLLM: typedecode's backend against the
same batch unconstrained and against vLLM's xgrammar backend, in one run (one machine state).

    VLLM_VENV/bin/python -m benchmarks.vllm_batch [--model FOLDER] [--copies 2] [--repeats 5]

The batch is `tests/decoding/serving/cases.py`'s 8 requests, `--copies` times (16 by default), greedy.
Each backend runs in its own `LLM` (the backend is engine-wide). For each backend, its constrained
batch is timed cold (first sight of the patterns: compilation included) and warm (median of
`--repeats`), then the unconstrained batch with exactly the token counts that backend produced per
request (`max_tokens = n` with `ignore_eos`: exactly n tokens) on the same engine;
ratio = warm constrained / unconstrained. Prints one table and checks every constrained output
against its request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from decoding.vllm import BACKEND_NAME, register
    from decoding.vllm.model import embedded_model_folder
    from tests.decoding.serving.cases import CASES, MAX_TOKENS, check

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: embedded SmolLM2)")
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default=f"{BACKEND_NAME},xgrammar")
    args = parser.parse_args()
    register()
    model = args.model or str(embedded_model_folder())
    cases = CASES * args.copies
    prompts = [prompt for _, prompt, _ in cases]

    def constrained() -> list:
        return [SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0,
                               structured_outputs=StructuredOutputsParams(
                                   **{"regex" if kind == "regex" else "json": spec}))
                for kind, _, spec in cases]

    def timed(llm, params) -> tuple[float, list]:
        start = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        return time.perf_counter() - start, outputs

    print(f"batch: {len(cases)} requests ({args.copies} x {len(CASES)} regex/schema cases), "
          f"greedy, max {MAX_TOKENS} tokens; warm = median of {args.repeats}")
    print(f"{'backend':<11} {'tokens':>6} {'cold s':>7} {'warm s':>7} {'unconstr. s':>11} "
          f"{'ratio':>6} {'valid':>6}")
    for backend in args.backends.split(","):
        llm = LLM(model=model, dtype="float32", enforce_eager=True, max_model_len=512, seed=0,
                  gpu_memory_utilization=0.1, structured_outputs_config={"backend": backend})
        cold, outputs = timed(llm, constrained())
        warm = statistics.median(timed(llm, constrained())[0] for _ in range(args.repeats))
        counts = [len(out.outputs[0].token_ids) for out in outputs]
        plain = [SamplingParams(max_tokens=n, ignore_eos=True, temperature=0.0)
                 for n in counts]
        timed(llm, plain)  # warm-up
        free = statistics.median(timed(llm, plain)[0] for _ in range(args.repeats))
        valid = sum(check(kind, spec, out.outputs[0].text)
                    for (kind, _, spec), out in zip(cases, outputs))
        print(f"{backend:<11} {sum(counts):>6} {cold:>7.2f} {warm:>7.2f} {free:>11.2f} "
              f"{warm / free:>6.2f} {valid:>3}/{len(cases)}", flush=True)
        llm.llm_engine.engine_core.shutdown()
        del llm


if __name__ == "__main__":
    main()
