"""The `typedecode` command line, run in-process through `decoding.cli.main`.

The model is a tiny random Llama (tests/tiny_models.py) handed to the CLI by replacing model
resolution, so these tests take seconds; the real default model runs in the slow e2e tests.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import regex

import decoding.generation
from decoding import cli
from decoding.models import LoadedModel
from tiny_models import Script, tiny_llama


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny(smollm2_tokenizer):
    return tiny_llama(smollm2_tokenizer, seed=2)


@pytest.fixture
def use_tiny(monkeypatch, tiny, smollm2_tokenizer):
    """Every model argument resolves to the tiny model; the shared generators start empty."""
    monkeypatch.setattr(decoding.generation, "resolve_model",
                        lambda model=None, cache_dir=None:
                        LoadedModel(tiny, smollm2_tokenizer, "tiny"))
    monkeypatch.setattr(decoding.generation, "_SHARED", type(decoding.generation._SHARED)())
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
    (["generate", "x", "--model-class", "json:loads"], "not a Pydantic model class"),
    (["generate", "x", "--model-class", "json"], "must look like pkg.mod:Class"),
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


def test_cache_info_and_clear(capsys, tmp_path):
    pytest.importorskip("cache.store")
    code, out, err = run(capsys, "cache", "info", "--cache-dir", str(tmp_path))
    assert code == 0, err
    assert out.strip()
    code, out, err = run(capsys, "cache", "clear", "--cache-dir", str(tmp_path))
    assert code == 0 and "cleared" in out


def test_console_entry_point_runs():
    from pathlib import Path

    code = "import sys; from decoding.cli import main; sys.exit(main())"
    result = subprocess.run([sys.executable, "-c", code, "generate", "x", "--max-new-tokens", "-1"],
                            capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 2 and "Traceback" not in result.stderr
