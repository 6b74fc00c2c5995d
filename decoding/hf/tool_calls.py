"""Tool calls on the wire: the constraint a call with `tools=` decodes under, and the prompt.

Wire format (`ToolFormat(prefix="", suffix="")`): one call is the text
`prefix + '{"name": "<tool>", "arguments": <arguments JSON>}' + suffix`, the members in that
order with one space after each `:` and `,` of the outer object (the arguments follow the
translator's layout, `schema2re`). Models with their own tags pass them as markers, e.g.
`ToolFormat("<tool_call>\\n", "\\n</tool_call>")`.

`tool_request(tools, tool_choice, tool_format)` checks the arguments (`UsageError`), before any
model work. `tool_choice`:
- "required" (default): the output is one call of one of the tools;
- a tool's name: the output is one call of that tool;
- "auto": a call, or a plain answer: with `schema=` / `regex=` the value they give, otherwise
  free text (non-empty) that does not begin with the call's opening (`prefix`, or `{` without
  one). A text that reads as a call is a call; so with "auto" and a schema whose instances may
  look like a call's object, the call wins.

`ToolRequest.constraint(plain, options, cache_dir)` is a `Constraint` (automaton engine only)
over the alternation of the calls, the name selecting the arguments' expression (each tool's
arguments translated by `make_constraint`, so memoized and disk-cached like a schema);
its `parse` returns a `ToolCall` with the arguments validated by the tool's model, or the plain
value. The language is named by the format, the choice, each tool's name and arguments
language, and the plain constraint's key, so its guide is memoized and disk-cached too.

`ToolRequest.render(prompt, template)`: the tools go to the chat template as `tools=` when the
template text uses `tools`; otherwise a system message lists them (as JSON function specs) with
how to call one (added to the first system message, if any); a string prompt gets the same text
in front.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from decoding.automaton.language import Language
from decoding.errors import OutputValidationError, UsageError
from decoding.hf.constraint import Constraint, make_constraint
from decoding.hf.options import ConstraintOptions
from decoding.hf.tools import Tool, ToolCall, tools_of

CHOICES = ("required", "auto")


@dataclass(frozen=True)
class ToolFormat:
    """The markers around a call's JSON object (see the module docstring)."""

    prefix: str = ""
    suffix: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not isinstance(self.suffix, str):
            raise UsageError("ToolFormat prefix and suffix must be strings")

    def head(self, name: str) -> str:
        """The text of a call of `name` up to its arguments."""
        return f'{self.prefix}{{"name": {json.dumps(name)}, "arguments": '

    def tail(self) -> str:
        return "}" + self.suffix

    def render(self, name: str, arguments_json: str) -> str:
        """The wire text of one call (how an assistant's past call is written in a history)."""
        return self.head(name) + arguments_json + self.tail()

    def opening(self) -> str:
        """What every call begins with and a plain answer must not."""
        return self.prefix or "{"


@dataclass(frozen=True)
class ToolRequest:
    """The checked `tools=`, `tool_choice=`, `tool_format=` of one call."""

    tools: tuple[Tool, ...]
    choice: str
    format: ToolFormat

    @property
    def callable_tools(self) -> tuple[Tool, ...]:
        """The tools the output may call (one, when `choice` names it)."""
        if self.choice in CHOICES:
            return self.tools
        return tuple(t for t in self.tools if t.name == self.choice)

    def constraint(self, plain: Constraint | None, options: ConstraintOptions,
                   cache_dir: Any) -> Constraint:
        """The constraint of this call (see the module docstring)."""
        if options.engine != "automaton":
            raise UsageError('tools= needs engine="automaton" (the calls are one expression)')
        if plain is not None and self.choice != "auto":
            raise UsageError(f'schema= / regex= with tools= give the plain answer of '
                             f'tool_choice="auto"; tool_choice is {self.choice!r}')
        calls = [(tool, make_constraint(schema=tool.arguments, options=options,
                                        cache_dir=cache_dir)) for tool in self.callable_tools]
        language = self._language(calls, plain if self.choice == "auto" else None)
        return Constraint(language, (language.name, 0, "automaton"), "automaton",
                          _Parser(self.format, calls, self.choice == "auto", plain))

    def _language(self, calls: list[tuple[Tool, Constraint]], plain: Constraint | None) -> Language:
        from decoding.automaton import expr

        fmt, auto = self.format, self.choice == "auto"
        name = json.dumps(["tool-calls", fmt.prefix, fmt.suffix, auto,
                           [[tool.name, args.key[0]] for tool, args in calls],
                           None if plain is None else repr(plain.key)])

        def build() -> expr.Expr:
            branches = [expr.cat(expr.literal(fmt.head(tool.name)), _expression(args.pattern),
                                 expr.literal(fmt.tail())) for tool, args in calls]
            if auto:
                branches.append(_expression(plain.pattern) if plain is not None
                                else _free_text(fmt.opening()))
            return expr.alt_of(branches)

        return Language("tool-calls:" + hashlib.sha256(name.encode()).hexdigest(), build)

    def render(self, prompt: Any, template: Any) -> tuple[Any, dict[str, Any]]:
        """`prompt` with the tools described, and the extra keywords of `apply_chat_template`
        (`tools=`, when `prompt` is chat messages and the chat `template` text uses tools,
        which then describes them)."""
        if not isinstance(prompt, str) and isinstance(template, str) and "tools" in template:
            return prompt, {"tools": [tool.spec() for tool in self.tools]}
        text = self.instructions()
        if isinstance(prompt, str):
            return f"{text}\n\n{prompt}", {}
        messages = [dict(m) for m in prompt]
        if messages and messages[0]["role"] == "system":
            messages[0]["content"] = f"{messages[0]['content']}\n\n{text}"
        else:
            messages.insert(0, {"role": "system", "content": text})
        return messages, {}

    def instructions(self) -> str:
        """The tools and how to call one, for a prompt whose template does not take tools."""
        specs = "\n".join(json.dumps(tool.spec()["function"]) for tool in self.tools)
        how = self.format.render("<tool name>", "<arguments object>")
        answer = " Or answer directly." if self.choice == "auto" else ""
        return f"You can call these tools:\n{specs}\nTo call one, reply with only {how}.{answer}"


def tool_request(tools: Any, tool_choice: Any = None, tool_format: Any = None) -> ToolRequest | None:
    """The checked tool arguments of a call, or None without `tools` (see the module docstring)."""
    if tools is None:
        if tool_choice is not None or tool_format is not None:
            raise UsageError("tool_choice= and tool_format= need tools=")
        return None
    checked = tools_of(list(tools) if isinstance(tools, tuple) else tools)
    choice = "required" if tool_choice is None else tool_choice
    names = [tool.name for tool in checked]
    if not isinstance(choice, str) or (choice not in CHOICES and choice not in names):
        raise UsageError(f"tool_choice must be 'required', 'auto' or a tool's name "
                         f"({', '.join(names)}), got {choice!r}")
    return ToolRequest(checked, choice, tool_format_of(tool_format))


def tool_format_of(tool_format: Any) -> ToolFormat:
    """`tool_format` checked (`UsageError` for anything but a `ToolFormat`); None: the default."""
    if tool_format is None:
        return ToolFormat()
    if not isinstance(tool_format, ToolFormat):
        raise UsageError(f"tool_format must be a ToolFormat, got {type(tool_format).__name__}")
    return tool_format


def pop_tool_keywords(keywords: dict[str, Any]) -> ToolRequest | None:
    """`tool_request` of the `tools`, `tool_choice`, `tool_format` entries of a call's keywords
    (removed from `keywords`, which then holds only generation options)."""
    return tool_request(keywords.pop("tools", None), keywords.pop("tool_choice", None),
                        keywords.pop("tool_format", None))


def _expression(pattern: Any) -> Any:
    """The expression of a constraint's pattern (a `Language`, an expression or regex text)."""
    from decoding.automaton.expr import Expr

    if isinstance(pattern, Language):
        return pattern.expression()
    if isinstance(pattern, Expr):
        return pattern
    from decoding.automaton.hir import to_expr
    from decoding.automaton.syntax import parse

    return to_expr(parse(pattern))


def _free_text(opening: str) -> Any:
    """Non-empty text that does not begin with `opening`."""
    from decoding.automaton import expr

    some = expr.cat(expr.ANY_CHAR, expr.TEXT)
    return expr.difference(some, expr.cat(expr.literal(opening), expr.TEXT))


class _Parser:
    """Text -> `ToolCall` (the call whose head the text begins with), or the plain value."""

    def __init__(self, fmt: ToolFormat, calls: Sequence[tuple[Tool, Constraint]], auto: bool,
                 plain: Constraint | None):
        self.format, self.calls, self.auto, self.plain = fmt, calls, auto, plain

    def __call__(self, text: str) -> Any:
        call = self.read_call(text)
        if call is not None:
            return call
        if not self.auto:
            raise OutputValidationError("the output is not a call of one of the tools", text)
        return self.plain.parse(text) if self.plain is not None else text

    def read_call(self, text: str) -> ToolCall | None:
        tail = self.format.tail()
        for tool, arguments in self.calls:
            head = self.format.head(tool.name)
            if text.startswith(head) and text.endswith(tail) \
                    and len(text) >= len(head) + len(tail):
                return ToolCall(tool.name, arguments.parse(text[len(head):len(text) - len(tail)]),
                                tool)
        return None

