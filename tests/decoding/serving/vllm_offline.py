"""Run by test_vllm_e2e.py in vLLM's virtualenv: `python vllm_offline.py MODEL OUT.json`.

One `LLM` with both routes: the `typedecode` backend (`StructuredOutputsParams`) and
`TypedecodeLogitsProcessor` (`extra_args`); every case of `cases.CASES` is sent through each, in
one batch, greedy. Writes [{route, index, text, finish_reason}] to OUT.json. vLLM spawns its
engine processes, which re-import this file: everything runs under `__main__`.
"""

import json
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from cases import CASES, MAX_TOKENS
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from decoding.vllm import BACKEND_NAME, TypedecodeLogitsProcessor, register

    register()
    llm = LLM(model=sys.argv[1], dtype="float32", enforce_eager=True, max_model_len=512,
              gpu_memory_utilization=0.1, seed=0,
              structured_outputs_config={"backend": BACKEND_NAME},
              logits_processors=[TypedecodeLogitsProcessor])
    prompts, params, labels = [], [], []
    for index, (kind, prompt, spec) in enumerate(CASES):
        key = "regex" if kind == "regex" else "json"
        backend = StructuredOutputsParams(**{key: spec})
        nested = {"regex" if kind == "regex" else "json_schema": spec}
        for route, extra in [("backend", None), ("processor", {"typedecode": nested})]:
            prompts.append(prompt)
            params.append(SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0,
                                         structured_outputs=backend if extra is None else None,
                                         extra_args=extra))
            labels.append((route, index))
    outputs = llm.generate(prompts, params, use_tqdm=False)
    rows = [{"route": route, "index": index, "text": out.outputs[0].text,
             "finish_reason": out.outputs[0].finish_reason}
            for (route, index), out in zip(labels, outputs)]
    Path(sys.argv[2]).write_text(json.dumps(rows))
