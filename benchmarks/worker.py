"""Worker process: measures one engine on the tasks it is sent (`python -m benchmarks.worker`).

Usage: `python -m benchmarks.worker ENGINE TOKENIZER_DIR [--memory-gb N]`.

Protocol (JSON, one object per line; the supervisor is `benchmarks.supervisor`):
- first the worker answers on its original stdout `{"ready": true, "version", "setup_s"}` once
  the engine's per-tokenizer setup is done, or `{"ready": false, "message"}` if it cannot start;
- then for each task line read on stdin it answers one `measure.measure` result line;
- it exits at the end of stdin. Anything the engines print goes to stderr, never to the protocol.
The address space is capped at `--memory-gb` (default 8) so that a runaway compile fails in this
process instead of exhausting the machine. Thread counts come from the environment the supervisor
sets (`supervisor.THREAD_ENV`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from importlib import metadata
from typing import IO


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        engine, version, setup_s = _start(args.engine, args.tokenizer_dir)
    except Exception as exc:  # reported to the supervisor, which records the engine as unavailable
        _send(protocol, {"ready": False, "message": f"{type(exc).__name__}: {exc}"})
        return 1
    _send(protocol, {"ready": True, "version": version, "setup_s": setup_s})

    from benchmarks.measure import measure

    for line in sys.stdin:
        if line.strip():
            _send(protocol, measure(engine, json.loads(line)))
    return 0


def _start(spec: str, tokenizer_dir: str):
    from benchmarks.engines import load

    engine = load(spec)
    from transformers import AutoTokenizer

    try:
        version = metadata.version(engine.distribution)
    except metadata.PackageNotFoundError:
        version = "not installed"
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    start = time.perf_counter()
    engine.setup(tokenizer)
    return engine, version, time.perf_counter() - start


def _send(stream: IO[str], message: dict) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__)
    parser.add_argument("engine", help="engine short name or adapter module path")
    parser.add_argument("tokenizer_dir", help="folder of a saved Hugging Face tokenizer")
    parser.add_argument("--memory-gb", type=float, default=8.0)
    return parser


if __name__ == "__main__":
    sys.exit(main())
