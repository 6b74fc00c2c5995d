"""typedecode inside vLLM (CPU build) on the embedded SmolLM2, end to end.

Runs only where `vllm` imports (`.ci/run` makes such a virtualenv); elsewhere every test here
is skipped with the reason (printed at the end of the run by this folder's conftest). The model is
the converted embedded model (`decoding.vllm.model`; `TYPEDECODE_VLLM_MODEL` overrides it). vLLM
spawns engine processes, so each engine runs in a subprocess: one `LLM` for the offline tests
(both routes, 16 requests in one batch) and one OpenAI-compatible server (both routes) for
the HTTP tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.decoding.serving.cases import CASES, MAX_TOKENS, check

pytest.importorskip("vllm", reason="vLLM is not installed in this environment (.ci/run tests "
                                   "it in a virtualenv of its own)")
pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
ENGINE = ["--dtype", "float32", "--enforce-eager", "--max-model-len", "512",
          "--gpu-memory-utilization", "0.1"]


def _user_env() -> dict[str, str]:
    """The environment without the test session's private typedecode cache (the converted
    model lives in the user's)."""
    env = dict(os.environ)
    env.pop("TYPEDECODE_CACHE_DIR", None)
    return env


@pytest.fixture(scope="module")
def model() -> str:
    if os.environ.get("TYPEDECODE_VLLM_MODEL"):
        return os.environ["TYPEDECODE_VLLM_MODEL"]
    found = subprocess.run([sys.executable, "-m", "decoding.vllm.model"], env=_user_env(),
                           capture_output=True, text=True)
    if found.returncode:
        pytest.skip(f"no converted embedded model for vLLM: {found.stderr.strip()}")
    return found.stdout.strip()


@pytest.fixture(scope="module")
def offline(model, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("vllm") / "outputs.json"
    run = subprocess.run([sys.executable, str(HERE / "vllm_offline.py"), model, str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(out.read_text())


def test_registration_checks_the_release_and_patches_nothing_on_a_mismatch(monkeypatch):
    import typing

    import vllm
    from vllm.config.structured_outputs import StructuredOutputsConfig

    from decoding.vllm import patches

    assert patches.mismatches() == []  # the release and internals this was tested with
    monkeypatch.setattr(vllm, "__version__", "0.99.0")
    with pytest.raises(patches.VllmMismatch, match=r"vLLM 0\.99\.0 is installed"):
        patches.install("typedecode-test")
    names = typing.get_args(StructuredOutputsConfig.__dataclass_fields__["backend"].type)
    assert "typedecode-test" not in names


def test_the_plugin_entry_point_logs_a_mismatch_and_lets_vllm_start(monkeypatch, caplog):
    import vllm

    import decoding.vllm
    from decoding.vllm import patches

    monkeypatch.setattr(vllm, "__version__", "0.99.0")
    monkeypatch.setattr(patches, "_installed", set())
    with caplog.at_level("ERROR", logger="vllm"):
        decoding.vllm.plugin()  # does not raise
    assert any("vLLM 0.99.0 is installed" in r.getMessage() and "not available" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("route", ["backend", "processor"])
def test_offline_batch_outputs_match_their_constraints(offline, route):
    rows = [row for row in offline if row["route"] == route]
    assert sorted(row["index"] for row in rows) == list(range(len(CASES)))
    for row in rows:
        kind, _, spec = CASES[row["index"]]
        assert row["finish_reason"] == "stop", row
        assert check(kind, spec, row["text"]), row


def test_server_json_schema_and_vllm_xargs(model):
    """One server with both routes: a `response_format` json_schema request (the backend) and
    a completion whose `vllm_xargs` carry a flat `typedecode_regex` (the logits processor)."""
    _, prompt, schema = CASES[4]
    _, code_prompt, code = CASES[0]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
         "--host", "127.0.0.1", "--port", str(port), *ENGINE,
         "--structured-outputs-config.backend", "typedecode",
         "--logits-processors", "decoding.vllm.processor:TypedecodeLogitsProcessor"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(server, port)
        body = {"model": model, "max_tokens": MAX_TOKENS, "temperature": 0,
                "messages": [{"role": "user", "content": prompt}],
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": "person", "schema": schema}}}
        reply = _post(port, "/v1/chat/completions", body)
        choice = reply["choices"][0]
        assert choice["finish_reason"] == "stop", choice
        assert check("json", schema, choice["message"]["content"]), choice
        body = {"model": model, "max_tokens": MAX_TOKENS, "temperature": 0,
                "prompt": code_prompt, "vllm_xargs": {"typedecode_regex": code}}
        choice = _post(port, "/v1/completions", body)["choices"][0]
        assert choice["finish_reason"] == "stop", choice
        assert check("regex", code, choice["text"]), choice
    finally:
        server.terminate()
        server.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(server: subprocess.Popen, port: int, limit: float = 300) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the vLLM server exited: {server.stderr.read()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the vLLM server was not healthy after {limit} s")


def _post(port: int, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.load(response)
