"""Tools a model may call: `Tool` (name, description, arguments model) and `ToolCall`.

`tool_of(obj)` makes the `Tool` for:
- a callable: name `obj.__name__`; description the docstring's summary (its first paragraph);
  arguments a Pydantic model made with `pydantic.create_model` from the parameters' type hints
  (a parameter without one takes any JSON value), defaults, and the descriptions that the
  docstring gives in Google (`Args:`), NumPy (`Parameters` / `----------`) or reST (`:param x:`)
  style. A tool without parameters has an empty arguments object. `*args`, `**kwargs` and
  positional-only parameters cannot be named in JSON: `UsageError`.
- a Pydantic model class: name the class name, description its docstring, arguments the model.
- a `Tool` (returned as is), so callers can name or describe a tool themselves.

`tools_of(objs)` checks a list (non-empty, names unique and of the form `[A-Za-z0-9_-]{1,64}`, as
OpenAI-style chat templates take them); every problem is a `UsageError` raised before model work.
Tools of callables are memoized per callable (the arguments model is made once).

`ToolCall(name, arguments, tool)`: `arguments` is the validated instance of the tool's arguments
model; `call()` runs the callable with them as keyword arguments (fields' values as validated,
nested models included) and returns its result; for a Pydantic-model tool it returns `arguments`.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from decoding.errors import UsageError
from decoding.util import LRU

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Tool:
    """A callable (or None for a Pydantic-model tool) with its name, description and the
    Pydantic model of its arguments."""

    name: str
    description: str
    arguments: type
    function: Callable[..., Any] | None = field(default=None, compare=False)

    def spec(self) -> dict[str, Any]:
        """The OpenAI-style function description chat templates take (`tools=[...]`)."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description,
                             "parameters": self.arguments.model_json_schema()}}


@dataclass(frozen=True)
class ToolCall:
    """A call the model chose: the tool's `name` and its validated `arguments`."""

    name: str
    arguments: Any
    tool: Tool = field(repr=False, compare=False)

    def call(self) -> Any:
        """Run the tool's callable with `arguments`; a Pydantic-model tool returns them."""
        if self.tool.function is None:
            return self.arguments
        values = {name: getattr(self.arguments, name)
                  for name in type(self.arguments).model_fields}
        return self.tool.function(**values)


def tools_of(objects: Any) -> tuple[Tool, ...]:
    """The `Tool`s of a list of callables, Pydantic models or `Tool`s (see the module docstring)."""
    if isinstance(objects, (str, bytes)) or not isinstance(objects, (list, tuple)) or not objects:
        raise UsageError("tools must be a non-empty list of callables or Pydantic models")
    tools = tuple(tool_of(obj) for obj in objects)
    names = [tool.name for tool in tools]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"tool names must be unique; repeated: {', '.join(repeated)}")
    return tools


_MEMO: LRU[Any, Tool] = LRU(256)


def tool_of(obj: Any) -> Tool:
    """The `Tool` for one callable, Pydantic model class or `Tool`."""
    from pydantic import BaseModel

    if isinstance(obj, Tool):
        tool = obj
    elif isinstance(obj, type) and issubclass(obj, BaseModel):
        tool = Tool(obj.__name__, _summary(obj.__doc__ or ""), obj)
    elif callable(obj) and not isinstance(obj, type):
        try:
            tool = _MEMO.get_or_make(obj, lambda: _function_tool(obj))[0]
        except TypeError:  # an unhashable callable: not memoized
            tool = _function_tool(obj)
    else:
        raise UsageError(f"a tool must be a callable or a Pydantic model class, got {obj!r}")
    if not _NAME.fullmatch(tool.name):
        raise UsageError(f"tool name {tool.name!r} is not 1 to 64 letters, digits, '_' or '-'; "
                         f"wrap the callable in a named function")
    return tool


def _function_tool(function: Callable[..., Any]) -> Tool:
    from pydantic import Field, create_model

    name = getattr(function, "__name__", type(function).__name__)
    try:
        signature = inspect.signature(function)
        hints = _type_hints(function)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"tool {name}: cannot read its signature ({exc})") from exc
    doc = inspect.getdoc(function) or ""
    described = _parameter_docs(doc)
    fields = {}
    for parameter in signature.parameters.values():
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise UsageError(f"tool {name}: parameter {parameter.name} ({parameter.kind.description})"
                             f" cannot be passed by name from JSON arguments")
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hints.get(parameter.name, Any),
                                  Field(default, description=described.get(parameter.name)))
    model = create_model(name, **fields)
    return Tool(name, _summary(doc), model, function)


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' type hints (`Annotated` kept), evaluated like `typing.get_type_hints`."""
    import typing

    target = function if inspect.isfunction(function) or inspect.ismethod(function) \
        else getattr(function, "__call__", function)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # a hint naming something undefined: the user's to fix
        raise UsageError(f"tool {getattr(function, '__name__', function)!r}: its type hints do "
                         f"not evaluate ({exc})") from exc


# --- docstrings -------------------------------------------------------------------------------

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns?|Raises|Yields|Examples?|Notes?|"
                      r"See Also|Attributes):?\s*$")
_REST_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")


def _summary(doc: str) -> str:
    """The docstring's first paragraph, on one line (up to a blank line or a section)."""
    lines = []
    for line in inspect.cleandoc(doc).splitlines():
        if not line.strip() or _SECTION.match(line.strip()) or line.startswith(":"):
            break
        lines.append(line.strip())
    return " ".join(lines)


def _parameter_docs(doc: str) -> dict[str, str]:
    """Parameter name -> description, from a Google, NumPy or reST style docstring."""
    lines = inspect.cleandoc(doc).splitlines()
    found: dict[str, str] = {}
    for line in lines:
        match = _REST_PARAM.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip()
    for i, line in enumerate(lines):
        header = line.strip()
        if header in ("Args:", "Arguments:", "Parameters:"):
            found.update(_entries(lines[i + 1:], r"(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)"))
        elif header == "Parameters" and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
            found.update(_entries(lines[i + 2:], r"(\w+)\s*(?::.*)?()"))
    return found


def _entries(lines: list[str], entry: str) -> dict[str, str]:
    """The entries of one indented section: `entry` (name, start of description) lines at the
    section's first indentation, continued by more indented lines; it ends at a dedent."""
    found: dict[str, str] = {}
    indent, name = None, None
    for line in lines:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if indent is None:
            indent = depth
        if depth < indent or (depth == indent and _SECTION.match(line.strip())):
            break
        match = re.fullmatch(entry, line.strip()) if depth == indent else None
        if match:
            name = match.group(1)
            found[name] = match.group(2).strip()
        elif name is not None and depth > indent:
            found[name] = f"{found[name]} {line.strip()}".strip()
    return found
