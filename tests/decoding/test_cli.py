"""The `typedecode` command line, run in-process through `decoding.cli.main`.

The model is a tiny random Llama (tests/tiny_models.py) handed to the CLI by replacing model
resolution, so these tests take seconds; the real default model runs in the slow e2e tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import regex

import decoding.hf.generation
from cache.store import Store
from decoding import cli
from decoding.hf.models import LoadedModel
from decoding.util import LRU
from tests.tiny_models import Script, tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny(smollm2_tokenizer):
    return tiny_llama(smollm2_tokenizer, seed=2)


@pytest.fixture
def use_tiny(monkeypatch, tiny, smollm2_tokenizer):
    """Every model argument resolves to the tiny model; the shared generators start empty."""
    monkeypatch.setattr(decoding.hf.generation, "resolve_model",
                        lambda model=None, cache_dir=None:
                        LoadedModel(tiny, smollm2_tokenizer, "tiny"))
    monkeypatch.setattr(decoding.hf.generation, "_SHARED",
                        LRU(decoding.hf.generation._SHARED.maxsize))
    return tiny


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_regex(capsys, use_tiny):
    code, out, err = run(capsys, "generate", "The code is", "--regex", "[0-9]{3}-[a-z]{2}")
    assert code == 0 and regex.fullmatch(r"[0-9]{3}-[a-z]{2}\n", out)


def test_generate_stream_prints_the_same_text(capsys, use_tiny):
    args = ("generate", "Say:", "--regex", "[a-z ]{5,9}", "--temperature", "1", "--seed", "4")
    _, whole, _ = run(capsys, *args)
    code, streamed, _ = run(capsys, *args, "--stream")
    assert code == 0 and streamed == whole


def test_generate_with_stop_and_stdin(capsys, use_tiny, smollm2_tokenizer, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("prompt from stdin"))
    with Script(use_tiny, smollm2_tokenizer, "Annapolis.\nHuman: next"):
        code, out, _ = run(capsys, "generate", "-", "--stop", "Human:", "--max-new-tokens", "20")
    assert code == 0 and out == "Annapolis.\n\n"


def test_generate_on_length_finish_and_reasoning(capsys, use_tiny):
    pattern = r"[a-z]{2,40}\."
    code, out, err = run(capsys, "generate", "x", "--regex", pattern, "--temperature", "1",
                         "--seed", "3", "--max-new-tokens", "4", "--on-length", "finish")
    assert code == 0 and regex.fullmatch(pattern + "\n", out), err
    code, out, err = run(capsys, "generate", "x", "--regex", "yes|no", "--reasoning", "<think>",
                         "</think>", "--max-reasoning-tokens", "3", "--temperature", "1",
                         "--seed", "1", "--max-new-tokens", "40")
    assert code == 0 and out in ("yes\n", "no\n"), err
    code, _, err = run(capsys, "generate", "x", "--max-reasoning-tokens", "3")
    assert code == 2 and "max_reasoning_tokens" in err


def test_generate_schema_file_prints_json(capsys, use_tiny, tmp_path):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
              "additionalProperties": False}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(schema))
    code, out, err = run(capsys, "generate", "Answer:", "--schema", str(path))
    assert code == 0, err
    assert json.loads(out) in ({"ok": True}, {"ok": False})


def test_generate_model_class(capsys, use_tiny, tmp_path, monkeypatch):
    (tmp_path / "agent_types.py").write_text(
        "from typing import Literal\n"
        "from pydantic import BaseModel\n"
        "class Choice(BaseModel):\n"
        "    answer: Literal['yes', 'no']\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    code, out, err = run(capsys, "generate", "Q?", "--model-class", "agent_types:Choice")
    assert code == 0, err
    assert json.loads(out) in ({"answer": "yes"}, {"answer": "no"})


def test_generate_any_type_prints_its_json(capsys, use_tiny, tmp_path, monkeypatch):
    (tmp_path / "cli_types.py").write_text(
        "import enum\n"
        "from typing import Annotated\n"
        "from pydantic import Field\n"
        "class Mood(enum.Enum):\n"
        "    HAPPY = 'happy'\n"
        "    SAD = 'sad'\n"
        "Digits = Annotated[set[Annotated[int, Field(ge=0, le=9)]], Field(max_length=3)]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    code, out, err = run(capsys, "generate", "Q?", "--type", "cli_types:Mood")
    assert code == 0, err
    assert json.loads(out) in ("happy", "sad")
    code, out, err = run(capsys, "generate", "Q?", "--type", "cli_types:Digits",
                         "--temperature", "1", "--seed", "2")
    assert code == 0, err
    digits = json.loads(out)  # a set, printed as a JSON list without repeats
    assert len(digits) == len(set(digits)) <= 3 and all(0 <= d <= 9 for d in digits)


def test_engine_and_translator_options(capsys, use_tiny, smollm2_tokenizer, tmp_path):
    code, _, err = run(capsys, "generate", "x", "--regex", r"(a|b)\1")
    assert code == 2 and "--engine partial" in err
    code, out, err = run(capsys, "generate", "x", "--regex", r"(a|b)\1", "--engine", "partial",
                         "--no-jump-forward")
    assert code == 0, err
    assert out in ("aa\n", "bb\n")
    path = tmp_path / "unique.json"
    path.write_text(json.dumps({"type": "array", "items": {"enum": [1, 2, 3, 4]},
                                "maxItems": 2, "uniqueItems": True, "minItems": 2}))
    code, _, err = run(capsys, "generate", "x", "--schema", str(path))
    assert code == 0, err
    path.write_text(json.dumps({"type": "array", "items": {"type": "integer"},
                                "maxItems": 2, "uniqueItems": True}))
    code, _, err = run(capsys, "generate", "x", "--schema", str(path))
    assert code == 2 and "uniqueItems" in err and "--lenient" in err
    with Script(use_tiny, smollm2_tokenizer, "[7, 8]"):
        code, out, err = run(capsys, "generate", "x", "--schema", str(path), "--lenient",
                             "--no-jump-forward")
    assert code == 0 and json.loads(out) == [7, 8]
    assert "typedecode: warning: lenient: ignored uniqueItems" in err
    schema = {"type": "object", "properties": {"a": {"type": "boolean"}}, "required": ["a"]}
    path.write_text(json.dumps(schema))
    with Script(use_tiny, smollm2_tokenizer, '{"a": true, "b": 1}'):
        code, out, err = run(capsys, "generate", "x", "--schema", str(path),
                             "--extra-properties", "--whitespace", "flexible",
                             "--max-depth", "1", "--no-jump-forward")
    assert code == 0, err
    assert json.loads(out) == {"a": True, "b": 1}


def test_demo_prints_both_runs(capsys, use_tiny, smollm2_tokenizer):
    answer = '{"action": "Final Answer", "action_input": "Annapolis"}'
    with Script(use_tiny, smollm2_tokenizer, answer + "\nHuman: and then"):
        code, out, err = run(capsys, "demo", "--max-new-tokens", "40")
    assert code == 0, err
    assert cli.RELLM_PROMPT in out
    plain, constrained = out.split("Unconstrained")[1].split("Constrained to the regex")
    assert answer in plain and "Human" not in plain.split(":", 1)[1]
    assert constrained.strip().endswith(answer)


@pytest.mark.parametrize("argv, message", [
    (["generate", "x", "--max-new-tokens", "0"], "max_new_tokens must be an integer >= 1"),
    (["generate", "x", "--regex", "(a"], "position"),
    (["generate", "x", "--temperature", "-2"], "temperature"),
    (["generate", "x", "--schema", "/no/such/schema.json"], "cannot read the schema file"),
    (["generate", "x", "--model-class", "no_such_module_xyz:Thing"], "cannot import module"),
    (["generate", "x", "--model-class", "json:loads"], "a schema must be"),
    (["generate", "x", "--type", "json"], "must look like pkg.mod:Name"),
    (["generate", "x", "--type", "json:nope"], "has no attribute"),
    (["generate", "", "--regex", "a"], "prompt is an empty string"),
    (["generate", "x", "--engine", "fast"], "unknown engine 'fast'"),
    (["generate", "x", "--max-depth", "-1"], "max_depth"),
    (["generate", "x", "--whitespace", "("], "whitespace regex"),
    (["generate", "x", "--model", "/no/such/model/folder"], "no model folder"),
])
def test_errors_are_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("typedecode: error: ") and message in err
    assert "Traceback" not in err


def test_bad_schema_file_exits_2(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"type": "object", "properties": ')
    code, _, err = run(capsys, "generate", "x", "--schema", str(path), "--model", "/nope")
    assert code == 2 and "typedecode: error:" in err and "Traceback" not in err


def test_incomplete_generation_exits_2(capsys, use_tiny):
    code, _, err = run(capsys, "generate", "x", "--regex", "[0-9]{9}", "--max-new-tokens", "2")
    assert code == 2 and "max_new_tokens=2 ran out" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["generate", "x", "--regex", "a", "--schema", "s.json"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


# --- the cache subcommand, checked against the files on disk ---------------------------------


def _disk_bytes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _fill_cache(folder: Path) -> None:
    """A vocabulary table, a mask entry, a 3 MiB converted model; one hit and one miss each."""
    store = Store(folder)
    store.put_bytes("vocabulary", "tok", b"v" * 5000)
    store.put_bytes("entry", "state", b"e" * 50_000)
    model = store.folder("model", "m")
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"w" * 3 * 2**20)
    store.get_bytes("vocabulary", "tok")
    store.get_bytes("vocabulary", "other")
    store.record("model", hit=True)
    store.record("model", hit=False)
    store.save_counts()


def _table(out: str) -> dict[str, list[str]]:
    """The rows of `cache info`'s table by kind: [entries, size, unit, hits, misses, ...]."""
    rows = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 6 and words[1].isdigit() or words[:1] == ["other"]:
            rows[words[0]] = words[1:]
    return rows


def test_cache_info_counts_every_byte_by_kind(capsys, tmp_path):
    _fill_cache(tmp_path)
    code, out, err = run(capsys, "cache", "info", "--cache-dir", str(tmp_path))
    assert code == 0, err
    total = sum(_disk_bytes(tmp_path).values())
    assert f"size: {total:,} bytes" in out and total > 3 * 2**20
    rows = _table(out)
    assert rows["model"][:5] == ["1", "3.0", "MiB", "1", "1"]
    assert rows["vocabulary"][0] == "1" and rows["vocabulary"][3:5] == ["1", "1"]
    assert rows["entry"][:3] == ["1", "48.9", "KiB"]
    assert rows["total"][0] == "3" and rows["total"][3:5] == ["2", "2"]


def test_cache_clear_removes_everything_and_says_what_is_left(capsys, tmp_path):
    _fill_cache(tmp_path)
    (tmp_path / "notes.txt").write_text("not typedecode's")
    before = sum(_disk_bytes(tmp_path).values())
    code, out, err = run(capsys, "cache", "clear", "--cache-dir", str(tmp_path))
    assert code == 0, err
    left = _disk_bytes(tmp_path)
    assert set(left) <= {"entries/cache.db", "entries/cache.db-wal", "entries/cache.db-shm",
                         "notes.txt"}
    assert f"removed {cli._human(before - sum(left.values()))}" in out
    assert f"left: {cli._human(sum(left.values()))}" in out and "notes.txt" in out
    _, out, _ = run(capsys, "cache", "info", "--cache-dir", str(tmp_path))
    assert _table(out)["total"][0] == "0" and _table(out)["total"][3:5] == ["0", "0"]


def test_every_cache_kind_written_has_a_label_in_cache_info():
    from decoding.hf.models import MODEL_KIND

    root = Path(cli.__file__).resolve().parent
    source = "\n".join(p.read_text() for p in (root / "persist").glob("*.py"))
    written = set(regex.findall(r'\.(?:put_json|put_arrays|merge_arrays)\("(\w+)"', source))
    assert {"pattern", "schema_language", "vocabulary"} <= written
    assert written | {MODEL_KIND} <= set(cli._KIND_LABELS)


def test_cache_info_with_the_cache_off_says_what_it_costs(capsys, monkeypatch):
    monkeypatch.setenv("TYPEDECODE_CACHE_DIR", "off")
    code, out, _ = run(capsys, "cache", "info")
    assert code == 0 and "disk cache is off" in out and "every process" in out


# --- quiet runs ------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
MAIN = "import sys; from decoding.cli import main; sys.exit(main())"


def _cli_process(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", MAIN, *argv], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def test_a_warm_run_prints_nothing_on_stderr(tmp_path, tiny, smollm2_tokenizer):
    folder = tmp_path / "model"
    tiny.save_pretrained(folder)
    smollm2_tokenizer.save_pretrained(folder)
    argv = ("generate", "The code is", "--regex", "[0-9]{3}", "--model", str(folder),
            "--cache-dir", str(tmp_path / "cache"))
    first, warm = _cli_process(*argv), _cli_process(*argv)
    assert first.returncode == warm.returncode == 0, first.stderr + warm.stderr
    assert "Loading weights" not in first.stderr
    assert warm.stderr == "" and regex.fullmatch(r"[0-9]{3}\n", warm.stdout)


@pytest.mark.slow
def test_a_warm_default_model_run_prints_nothing_on_stderr():
    from decoding.errors import ModelLoadError
    from decoding.hf.models import default_model_gguf

    try:
        default_model_gguf()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    argv = ("generate", "Q: Is Annapolis in Maryland? A:", "--regex", " (yes|no)")
    first, warm = _cli_process(*argv), _cli_process(*argv)  # the session's cache folder
    assert first.returncode == warm.returncode == 0, first.stderr + warm.stderr
    for foreign_bar in ("Loading weights", "Converting and de-quantizing", "Writing model"):
        assert foreign_bar not in first.stderr
    assert warm.stderr == "" and warm.stdout in (" yes\n", " no\n")


def test_console_entry_point_runs():
    result = _cli_process("generate", "x", "--max-new-tokens", "-1")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_cache_warm_from_a_tokenizer_folder_then_info_read_only(capsys, tmp_path, bpe_tokenizer,
                                                                monkeypatch):
    bpe_tokenizer.save_pretrained(tmp_path / "tok")
    cache = str(tmp_path / "cache")
    code, out, err = run(capsys, "cache", "warm", "--regex", "[0-9]{1,3}", "--regex", "[0-9",
                         "--tokenizer", str(tmp_path / "tok"), "--cache-dir", cache)
    assert code == 1 and "warmed 1 of 2 targets" in out
    assert "[1/2] [0-9]{1,3}: " in err and "[2/2] [0-9: failed: PatternSyntaxError" in err
    monkeypatch.setenv("TYPEDECODE_CACHE_READONLY", "1")
    code, out, _ = run(capsys, "cache", "info", "--cache-dir", cache)
    assert code == 0 and "(read-only" in out and "entries" in out
    code, _, err = run(capsys, "cache", "clear", "--cache-dir", cache)
    assert code == 2 and "read-only" in err
    code, _, err = run(capsys, "cache", "warm", "--cache-dir", cache)
    assert code == 2 and "needs targets" in err
