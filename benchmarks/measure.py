"""The measurement of one task (a message from `cases.tokenize_case`) on one engine, in-process.

Contract (the same work for every engine):
- first mask: time from the schema (or regex) in hand to the first mask computed, compile
  included. Times are wall-clock, or with `BENCH_CLOCK=cpu` (`benchmarks.masks --clock cpu`) the
  CPU time of the measuring thread, which the load of a shared machine disturbs far less (work
  an engine hands to other threads is not counted then).
- steps: for each valid instance, from the start state, each token is checked against the current
  mask (not timed) and then committed and the next mask computed; one step time is the time of
  `advance(token)` plus the following `mask()`, in nanoseconds.
- an instance is accepted when every token is allowed by the mask before it and committed, and
  the engine reports an accepting state after the last token. Invalid instances are walked the
  same way (not timed); an accepted invalid instance is a soundness error.
- the result is a JSON-ready dict: `status` "ok", "unsupported" (the engine's own refusal) or
  "error" (any other exception while compiling), plus the figures above.
"""

from __future__ import annotations

import os
import time
from typing import Any

from benchmarks.engines.base import Engine, Matcher, Unsupported

MESSAGE_LIMIT = 300

CLOCK = os.environ.get("BENCH_CLOCK", "wall")
"""wall (default) or cpu: see the module contract."""
_now_ns = time.thread_time_ns if CLOCK == "cpu" else time.perf_counter_ns


def measure(engine: Engine, task: dict) -> dict:
    """Compile `task` on `engine` and walk its instances (see the module contract)."""
    result: dict[str, Any] = {"id": task["id"], "valid_total": len(task["valid"]),
                              "invalid_total": len(task["invalid"])}
    start = _now_ns()
    try:
        matcher = engine.compile(task["kind"], task["source"])
        matcher.mask()
    except Unsupported as exc:
        return {**result, "status": "unsupported", "message": _short(str(exc))}
    except Exception as exc:  # an engine bug: recorded, never fatal to the run
        return {**result, "status": "error", "message": _short(f"{type(exc).__name__}: {exc}")}
    result["first_mask_s"] = (_now_ns() - start) / 1e9

    steps: list[int] = []
    rejections: list[str] = []
    valid_accepted = 0
    for n, tokens in enumerate(task["valid"]):
        accepted, note = walk(matcher, tokens, steps)
        valid_accepted += accepted
        if not accepted:
            rejections.append(f"valid #{n}: {note}")
    invalid_accepted = sum(walk(matcher, tokens, None)[0] for tokens in task["invalid"])
    return {**result, "status": "ok", "step_ns": steps, "valid_accepted": valid_accepted,
            "invalid_accepted": invalid_accepted,
            "message": _short("; ".join(rejections))}


def walk(matcher: Matcher, tokens: list[int], steps: list[int] | None) -> tuple[bool, str]:
    """Walk `tokens` from the start; append step times to `steps` unless it is None.
    Returns (accepted, why not)."""
    try:
        matcher.reset()
        mask = matcher.mask()
        for i, token in enumerate(tokens):
            if not matcher.allows(mask, token):
                return False, f"token {i}/{len(tokens)} (id {token}) not in the mask"
            start = _now_ns()
            committed = matcher.advance(token)
            if committed:
                mask = matcher.mask()
            if steps is not None:
                steps.append(_now_ns() - start)
            if not committed:
                return False, f"token {i}/{len(tokens)} (id {token}) refused by advance"
        if not matcher.is_accepting(mask):
            return False, "not accepting at the end"
    except Exception as exc:  # an engine bug while walking: the instance is not accepted
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def _short(text: str) -> str:
    """`text` on one line, at most `MESSAGE_LIMIT` characters."""
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT - 3] + "..."
