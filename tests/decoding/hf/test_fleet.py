"""A cache folder warmed by `typedecode cache warm`, then shared read-only by a fleet.

The folder is warmed through the command line (a tiny Llama over the BPE test tokenizer, saved
as a model folder); then four processes at once (`fleet_child.py`) with
`TYPEDECODE_CACHE_READONLY=1` make the masks of every target's instances, beside one process
without any disk cache. Checked: every file under the folder is unchanged (size, mtime, SHA-256),
the four get the masks of the uncached run, and their masks come from the cache (no entry
computed, entry hits counted), without a warning. Five Python processes importing torch: about
30 s of CPU, 25 to 60 s on the shared 2-core machine, hence `slow`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decoding.cli import main

ROOT = Path(__file__).resolve().parents[3]

SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
                                      "age": {"type": "integer"}}, "required": ["name", "age"]},
    {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "maxItems": 4},
]
TARGETS = [
    {"name": "person", "kind": "schema", "source": SCHEMAS[0],
     "instances": [{"name": "Ann", "age": 41}, {"name": "Bob the cat", "age": 3}]},
    {"name": "colours", "kind": "schema", "source": SCHEMAS[1],
     "instances": [["red", "blue"], []]},
    {"name": "email", "kind": "regex", "source": r"[a-z]{1,8}@[a-z]{2,8}\.(com|org)",
     "instances": ["ann@example.org", "bob@cats.com"]},
]


def _snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns,
                                         hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _spawn(targets: Path, model: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.decoding.hf.fleet_child", str(targets), str(model)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def _report(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def model_folder(tmp_path, make_bpe_tokenizer) -> Path:
    from tests.tiny_models import tiny_llama

    tokenizer = make_bpe_tokenizer()
    folder = tmp_path / "model"
    tiny_llama(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_warmed_folder_serves_four_readonly_processes_without_a_write(tmp_path, model_folder,
                                                                      capsys):
    listing = tmp_path / "targets.json"
    listing.write_text(json.dumps([{t["kind"]: t["source"], "id": t["name"],
                                    "instances": t["instances"]} for t in TARGETS]))
    cache = tmp_path / "cache"
    t0 = time.perf_counter()
    assert main(["cache", "warm", "--from-list", str(listing), "--model", str(model_folder),
                 "--cache-dir", str(cache), "--max-states", "0"]) == 0
    err = capsys.readouterr().err
    assert "[3/3] email: " in err and "rejected" not in err

    targets = tmp_path / "child-targets.json"
    targets.write_text(json.dumps(TARGETS))
    before = _snapshot(cache)
    t1 = time.perf_counter()
    readers = [_spawn(targets, model_folder, TYPEDECODE_CACHE_DIR=str(cache),
                      TYPEDECODE_CACHE_READONLY="1") for _ in range(4)]
    plain = _spawn(targets, model_folder, TYPEDECODE_CACHE_DIR="off")
    reports = [_report(p) for p in readers]
    expected = _report(plain)
    print(f"warm {t1 - t0:.1f} s, five processes {time.perf_counter() - t1:.1f} s")

    assert _snapshot(cache) == before
    assert set(expected["digests"]) == {t["name"] for t in TARGETS}
    for report in reports:
        assert report["readonly"] and report["warnings"] == []
        assert report["digests"] == expected["digests"]
        assert report["walks"] == 0  # every mask came from the warmed folder
        assert report["restored"] > 0  # from one read of stored entries a target
        assert report["hits"] == len(TARGETS) and report["misses"] == 0
