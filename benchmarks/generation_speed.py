"""Generation speed on the embedded default model: constrained vs unconstrained vs RELLM.

Three workloads, each a JSON object: the RELLM LangChain few-shot prompt with its agent-action
regex (short output, long prompt), the same prompt with an AgentAction-style Pydantic model
(through schema2re), and a list of ten capitals (longer output). For each, in one run:
1. typedecode, greedy, constrained to the JSON regex, masks warm (jump-forward on, the default);
2. the same with `jump_forward=False` (one forward pass per token);
3. the same as 1 with cold masks (first call for the pattern in this process);
4. transformers `model.generate` unconstrained, greedy, for the same number of new tokens;
5. typedecode's own loop unconstrained, for the same number of new tokens (it may stop at EOS).
On the RELLM workload also the RELLM approach for a few tokens: per step re-encode prompt +
completion, scan the whole vocabulary with `regex.fullmatch(pattern, completion + token_text,
partial=True)`, and generate one token with that mask.
Prints a markdown table (tokens/s, prompt processing included, and the ratios to
`model.generate`: of tokens/s, and of wall time, which is the time-to-object ratio for the
constrained rows since they produce the same number of tokens). Timings are medians of `--repeats` interleaved runs. On a shared machine pass
`--threads 1`: oversubscribed torch threads make timings erratic.
Usage: python benchmarks/generation_speed.py [--repeats 5] [--rellm-tokens 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Literal

import regex
import torch
from pydantic import BaseModel
from transformers import LogitsProcessor

import schema2re
from decoding import Generator
from decoding.examples import RELLM_PROMPT, RELLM_REGEX


def hf_generate(model, tokenizer, prompt: str, n: int):
    """Unconstrained greedy `model.generate` of exactly `n` new tokens (the speed baseline)."""
    ids = tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        return model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                              pad_token_id=tokenizer.eos_token_id)


class _MaskFromScan(LogitsProcessor):
    """A logits processor applying a precomputed boolean mask (RELLM style)."""

    def __init__(self, allowed: torch.Tensor):
        self.allowed = allowed

    def __call__(self, input_ids, scores):
        return scores.masked_fill(~self.allowed, float("-inf"))


def _rellm(model, tokenizer, prompt: str, pattern: str, steps: int) -> tuple[float, float, str]:
    """RELLM's loop for `steps` tokens: (seconds per token, seconds per vocabulary scan, text)."""
    compiled = regex.compile(pattern)
    texts = [tokenizer.decode([i]) for i in range(len(tokenizer))]
    width = model.get_output_embeddings().weight.shape[0]
    completion, scan_time = "", 0.0
    start = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        allowed = torch.zeros(width, dtype=torch.bool)
        for i, text in enumerate(texts):
            if compiled.fullmatch(completion + text, partial=True):
                allowed[i] = True
        scan_time += time.perf_counter() - t0
        ids = tokenizer(prompt + completion, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=1, do_sample=False,
                                 logits_processor=[_MaskFromScan(allowed)],
                                 pad_token_id=tokenizer.eos_token_id)
        completion += tokenizer.decode(out[0, ids["input_ids"].shape[1]:])
    return (time.perf_counter() - start) / steps, scan_time / steps, completion


class AgentAction(BaseModel):
    """What a LangChain agent returns: a tool name and its input."""

    action: Literal["Final Answer", "Search", "Calculator"]
    action_input: str


LIST_PROMPT = "Q: List ten US state capitals as a JSON object.\nA: "
LIST_REGEX = (r'\{"capitals": \[("[A-Z][a-z]+(?: [A-Z][a-z]+)*", ){9}'
              r'"[A-Z][a-z]+(?: [A-Z][a-z]+)*"\]\}')
WORKLOADS = [("RELLM agent action", RELLM_PROMPT, RELLM_REGEX),
             ("AgentAction schema", RELLM_PROMPT, schema2re.to_regex(AgentAction)),
             ("ten capitals list", LIST_PROMPT, LIST_REGEX)]


def _measure(gen: Generator, prompt: str, pattern: str, repeats: int) -> list[tuple]:
    """Rows (method, tokens, seconds) for one workload; the methods' runs are interleaved so
    that load from other processes affects them alike."""
    model, tokenizer = gen.model, gen.tokenizer
    t0 = time.perf_counter()
    first = gen.complete(prompt, regex=pattern, max_new_tokens=300)
    cold_s = time.perf_counter() - t0
    n = first.num_tokens
    runs = {"constrained": [], "stepwise": [], "hf": [], "plain": []}
    plain_tokens = stepwise_tokens = n
    for _ in range(repeats):
        t0 = time.perf_counter()
        again = gen.complete(prompt, regex=pattern, max_new_tokens=300)
        runs["constrained"].append(time.perf_counter() - t0)
        assert again.text == first.text
        t0 = time.perf_counter()
        stepwise = gen.complete(prompt, regex=pattern, max_new_tokens=300, jump_forward=False)
        runs["stepwise"].append(time.perf_counter() - t0)
        stepwise_tokens = stepwise.num_tokens
        t0 = time.perf_counter()
        hf_generate(model, tokenizer, prompt, n)
        runs["hf"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        plain_tokens = gen.complete(prompt, max_new_tokens=n).num_tokens
        runs["plain"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"- output ({n} tokens, finish: {first.finish_reason}): {first.text!r}")
    if stepwise.text != first.text:
        print(f"- without jump-forward ({stepwise_tokens} tokens): {stepwise.text!r}")
    return [("typedecode constrained, greedy, masks warm", n, med["constrained"]),
            ("typedecode constrained, no jump-forward", stepwise_tokens, med["stepwise"]),
            ("typedecode constrained, first call (cold masks)", n, cold_s),
            ("transformers model.generate, unconstrained", n, med["hf"]),
            ("typedecode loop, unconstrained", plain_tokens, med["plain"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rellm-tokens", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    gen = Generator()
    print(f"Model: {gen.name}, torch threads: {torch.get_num_threads()}, model load: "
          f"{time.perf_counter() - t0:.1f} s, timings: median of {args.repeats} interleaved runs")
    tables = []
    for name, prompt, pattern in WORKLOADS:
        print(f"{name}:")
        tables.append((name, _measure(gen, prompt, pattern, args.repeats)))
    per_token, scan, text = _rellm(gen.model, gen.tokenizer, RELLM_PROMPT, RELLM_REGEX,
                                   args.rellm_tokens)
    print(f"RELLM approach output after {args.rellm_tokens} tokens: {text!r}")
    tables[0][1].append((f"RELLM approach (vocabulary scan {scan * 1000:.0f} ms/token)",
                         args.rellm_tokens, per_token * args.rellm_tokens))
    print()
    print("| workload | method | new tokens | seconds | tokens/s | tokens/s vs model.generate "
          "| time vs model.generate |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, rows in tables:
        hf_tokens, hf_seconds = next((t, s) for m, t, s in rows if m.startswith("transformers"))
        for method, tokens, seconds in rows:
            rate = tokens / seconds
            print(f"| {name} | {method} | {tokens} | {seconds:.2f} | {rate:.1f} | "
                  f"{rate / (hf_tokens / hf_seconds):.2f}x | {seconds / hf_seconds:.2f}x |")


if __name__ == "__main__":
    main()
