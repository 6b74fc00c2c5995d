"""The `typedecode` command line.

    typedecode generate PROMPT [--schema FILE.json | --model-class pkg.mod:Class | --regex RE]
                       [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S]
                       [--stop TEXT ...] [--stream] [--model PATH] [--cache-dir DIR]
    typedecode demo [--max-new-tokens N] [--model PATH] [--cache-dir DIR]
    typedecode cache info|clear [--cache-dir DIR]

`generate` prints the result: the text, or JSON for a schema (a Pydantic instance is printed with
`model_dump_json`). PROMPT `-` reads the prompt from standard input. `demo` runs the RELLM
LangChain example on the model, first unconstrained, then constrained to the agent-action JSON
regex, and prints both. Contract: any error is one message on stderr and exit status 2, never a
traceback; argparse usage errors also exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any, Sequence

EXIT_ERROR = 2

RELLM_PROMPT = """Human: "What's the capital of the United States?"
AI Assistant:{
  "action": "Final Answer",
  "action_input": "The capital of the United States is Washington D.C."
}
Human: "What's the capital of Pennsylvania?"
AI Assistant:{
  "action": "Final Answer",
  "action_input": "The capital of Pennsylvania is Harrisburg."
}
Human: "What 2 + 5?"
AI Assistant:{
  "action": "Final Answer",
  "action_input": "2 + 5 = 7."
}
Human: 'What's the capital of Maryland?'
AI Assistant:"""
"""The few-shot prompt of the RELLM LangChain example."""

RELLM_REGEX = r'\{\s*"action":\s*"Final Answer",\s*"action_input":\s*(\{.*\}|"[^"]*")\s*\}'
"""The agent-action JSON the RELLM example constrains the answer to."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, or 2 on any error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("typedecode: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every expected failure is typed; report, never a traceback
        if not _is_expected(exc):
            raise
        print(f"typedecode: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _is_expected(exc: Exception) -> bool:
    from decoding.errors import TypedecodeError
    from schema2re.errors import SchemaToRegexError

    return isinstance(exc, (TypedecodeError, SchemaToRegexError))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="typedecode", description="Constrained generation "
                                     "with local Hugging Face models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="generate text, constrained or not")
    gen.add_argument("prompt", help="the prompt text ('-' reads standard input)")
    what = gen.add_mutually_exclusive_group()
    what.add_argument("--schema", metavar="FILE.json", help="JSON Schema file")
    what.add_argument("--model-class", metavar="pkg.mod:Class", help="Pydantic model class")
    what.add_argument("--regex", metavar="RE", help="regular expression the output must match")
    _add_generation_options(gen, max_new_tokens=256)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    gen.add_argument("--top-p", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--stop", action="append", default=None, metavar="TEXT",
                     help="stop string (repeatable); excluded from the output")
    gen.add_argument("--stream", action="store_true", help="print the text as it is generated")
    gen.set_defaults(run=_run_generate)

    demo = commands.add_parser("demo", help="the RELLM example, unconstrained then constrained")
    _add_generation_options(demo, max_new_tokens=200)
    demo.set_defaults(run=_run_demo)

    cache = commands.add_parser("cache", help="inspect or clear the on-disk cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.add_argument("--cache-dir", default=None, help="cache folder (default: the usual one)")
    cache.set_defaults(run=_run_cache)
    return parser


def _add_generation_options(parser: argparse.ArgumentParser, max_new_tokens: int) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="local model folder (default: the embedded SmolLM2-135M-Instruct)")
    parser.add_argument("--cache-dir", default=None, help="cache folder (default: the usual one)")


def _run_generate(args: argparse.Namespace) -> int:
    from decoding.generation import generate, stream

    schema = _schema_argument(args)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    options = dict(schema=schema, regex=args.regex, model=args.model, cache_dir=args.cache_dir,
                   max_new_tokens=args.max_new_tokens, stop=args.stop,
                   temperature=args.temperature, top_p=args.top_p, seed=args.seed)
    if args.stream:
        for piece in stream(prompt, **options):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return 0
    print(_render(generate(prompt, **options), structured=schema is not None))
    return 0


def _schema_argument(args: argparse.Namespace) -> Any:
    from decoding.errors import UsageError

    if args.schema is not None:
        try:
            with open(args.schema, encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            raise UsageError(f"cannot read the schema file {args.schema!r}: "
                             f"{exc.strerror or exc}") from exc
    if args.model_class is not None:
        return _import_class(args.model_class)
    return None


def _import_class(spec: str) -> type:
    """The Pydantic class named `pkg.mod:Class` (the current folder is importable)."""
    from pydantic import BaseModel

    from decoding.errors import UsageError

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--model-class must look like pkg.mod:Class, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(f"cannot import module {module_name!r} for --model-class: "
                         f"{type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise UsageError(f"{spec!r} is not a Pydantic model class")
    return obj


def _render(value: Any, structured: bool) -> str:
    if not structured:
        return value
    if hasattr(value, "model_dump_json"):
        return value.model_dump_json()
    return json.dumps(value, ensure_ascii=False)


def _run_demo(args: argparse.Namespace) -> int:
    from decoding.generation import Generator

    generator = Generator(args.model, cache_dir=args.cache_dir)
    print("Prompt (the RELLM LangChain example):")
    print(RELLM_PROMPT)
    print()
    print('Unconstrained (stop=["Human:"]):')
    plain = generator.generate(RELLM_PROMPT, max_new_tokens=args.max_new_tokens,
                               stop=["Human:"])
    print(plain)
    print()
    print(f"Constrained to the regex {RELLM_REGEX}:")
    constrained = generator.generate(RELLM_PROMPT, regex=RELLM_REGEX,
                                     max_new_tokens=args.max_new_tokens)
    print(constrained)
    return 0


def _run_cache(args: argparse.Namespace) -> int:
    from cache.store import Store

    store = Store(cache_dir=args.cache_dir)
    if args.action == "clear":
        store.clear()
        print("cache cleared")
        return 0
    for key, value in store.info().items():
        shown = json.dumps(value) if isinstance(value, (dict, list)) else value
        print(f"{key}: {shown}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
