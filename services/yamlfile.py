"""YAML files validated by pydantic, with problems reported as `FILE:LINE: field: message`.

Used for the config file and for watchlists. `${VAR}`, `${VAR:-default}` and `${file:/path}` in
string values are substituted after parsing, so a secret can never change the document structure.

PyYAML sets no limits of its own, so the loaders here add them: nesting depth (its composer
recurses), alias expansion (billion laughs), aliases inside their own anchor (a cycle), and
integer length. A hostile file gets one `FILE:LINE: YAML: ...` problem, never a hang or a
RecursionError.
"""

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml._yaml import CParser  # libyaml's; what yaml.cyaml's loaders are built on

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

#: Mappings and lists nested deeper than this are refused (configs and watchlists nest < 10).
MAX_YAML_DEPTH = 64
#: Nodes that aliases (`*name`) may repeat in one file, all aliases together.
MAX_ALIAS_NODES = 100_000
#: Digits of an integer (Python refuses to convert more than 4,300; no setting needs 20).
MAX_INT_DIGITS = 100

_SUBST_RE = re.compile(
    r"\$\{(?:file:(?P<file>[^}]+)|(?P<var>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?)\}"
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, located as precisely as we can."""

    file: str
    line: int | None  # None: the problem is the file itself (missing, unreadable)
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        line = "" if self.line is None else f"{self.line}:"
        return f"{self.file}:{line} {where}{self.message}"


class ConfigError(Exception):
    """A file failed validation; `problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class YamlDocument:
    """Parsed YAML plus the line where each key or item starts, for error messages, and the
    `${...}` substitutions that failed (reported by `validate` with the other problems)."""

    path: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    unresolved: dict[Path_, str] = field(default_factory=dict)

    def line_of(self, loc: Path_) -> int:
        """Line of the deepest known prefix of `loc` (1 if nothing is known)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def problem(self, loc: Path_, message: str, label: str | None = None) -> Problem:
        return Problem(str(self.path), self.line_of(loc), label or dotted(loc), message)


def dotted(loc: Path_) -> str:
    """`('rules', 3, 'id')` → `rules[3].id`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Bounds:
    """Limits checked while composing (with the line), before anything can recurse: deep
    nesting and aliases that contain themselves. Mixed into a loader (integers' length is
    `_bounded_int`'s)."""

    depth: int
    open_anchors: set[str]  # anchors of the collections being composed
    first_alias_line: int | None

    def _start_bounds(self) -> None:
        self.depth = 0
        self.open_anchors = set()
        self.first_alias_line = None

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent):
            self.first_alias_line = self.first_alias_line or _line(event)
            if event.anchor in self.open_anchors:
                raise _refused(f"alias *{event.anchor} is inside its own anchor", event)
            return super().compose_node(parent, index)  # type: ignore[misc, no-any-return]
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)  # type: ignore[misc, no-any-return]
        if self.depth >= MAX_YAML_DEPTH:
            raise _refused(f"mappings and lists nested more than {MAX_YAML_DEPTH} deep", event)
        self.depth += 1
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        node: yaml.Node | None = super().compose_node(parent, index)  # type: ignore[misc]
        self.depth -= 1
        self.open_anchors.discard(event.anchor or "")
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A value, or the line of the one that cannot be one (`2026-02-30` is a date of
        YAML's syntax and of no calendar)."""
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except (ValueError, TypeError, OverflowError) as exc:
            raise _refused(f"{node.value!r} cannot be read: {exc}", node) from exc


class _BoundedLoader(_Bounds, yaml.SafeLoader):
    """PyYAML's pure-Python safe loader within the bounds: the reference, whose error
    messages (with the offending character) are the ones reported."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._start_bounds()


class _FastBoundedLoader(
    _Bounds,
    yaml.composer.Composer,
    CParser,
    yaml.constructor.SafeConstructor,
    yaml.resolver.Resolver,
):
    """libyaml's scanner and parser (in PyYAML's wheels) under the same Python composer,
    bounds and constructors: five times faster on a 10,000-rule watchlist, the same nodes and
    lines on every file both accept. libyaml also accepts a tab as a separator (`a:<TAB>b`),
    which the pure-Python parser refuses; whatever libyaml refuses is read by that one."""

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._start_bounds()


def _bounded_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:  # or the fast one
    if len(node.value) > MAX_INT_DIGITS:
        raise _refused(f"integer longer than {MAX_INT_DIGITS} digits", node)
    return loader.construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _bounded_int)
_FastBoundedLoader.add_constructor("tag:yaml.org,2002:int", _bounded_int)


class _Refused(Exception):
    """Well-formed YAML beyond one of our limits, or with a value no Python value can hold,
    at `line` (1-based)."""

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def _line(where: yaml.Event | yaml.Node) -> int:
    return where.start_mark.line + 1 if where.start_mark else 1


def _refused(reason: str, where: yaml.Event | yaml.Node) -> _Refused:
    return _Refused(reason, _line(where))


def _measure(root: yaml.Node) -> tuple[int, int, int]:
    """Nodes and depth of `root` with every alias expanded, and its distinct nodes: computed
    once per distinct node, iteratively (no expansion, no recursion)."""
    size: dict[int, tuple[int, int]] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        children = _children(node)
        if children_done:
            sizes = [size[id(child)] for child in children]
            size[id(node)] = (
                1 + sum(n for n, _ in sizes),
                1 + max((d for _, d in sizes), default=0),
            )
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in size)
    nodes, depth = size[id(root)]
    return nodes, depth, len(size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _compose(text: str) -> tuple[yaml.Node | None, Any]:
    """The node graph and the data of a one-document YAML text, within the limits above:
    read by libyaml, and again by the pure-Python parser only when libyaml refuses the text,
    so that the error reported is the reference's, with its clearer message."""
    try:
        return _compose_with(_FastBoundedLoader, text)
    except yaml.YAMLError:
        return _compose_with(_BoundedLoader, text)


def _compose_with(
    loader_class: type[_BoundedLoader] | type[_FastBoundedLoader], text: str
) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        if loader.first_alias_line is not None:
            nodes, depth, distinct = _measure(node)
            if nodes - distinct > MAX_ALIAS_NODES:
                reason = f"aliases repeat more than {MAX_ALIAS_NODES:,} nodes"
                raise _Refused(reason, loader.first_alias_line)
            if depth > MAX_YAML_DEPTH:
                reason = f"nested more than {MAX_YAML_DEPTH} deep once aliases are expanded"
                raise _Refused(reason, loader.first_alias_line)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _walk(node: yaml.Node, path: Path_) -> Iterator[tuple[Path_, int]]:
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            yield child, key.start_mark.line + 1
            for sub_path, line in _walk(value, child):
                if sub_path != child:
                    yield sub_path, line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, (*path, i))


def _substitute(value: Any, loc: Path_, unresolved: dict[Path_, str]) -> Any:
    """`value` with `${...}` replaced; a failed substitution becomes "" and is noted by loc."""
    if isinstance(value, dict):
        return {k: _substitute(v, (*loc, k), unresolved) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*loc, i), unresolved) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(m: re.Match[str]) -> str:
        if m.group("file"):
            try:
                return Path(m.group("file")).read_text(encoding="utf-8").strip()
            except OSError as exc:
                unresolved[loc] = f"cannot read secret file {m.group('file')}: {exc.strerror}"
                return ""
        name = m.group("var")
        if name in os.environ:
            return os.environ[name]
        if m.group("default") is not None:
            return m.group("default")
        unresolved[loc] = f"environment variable {name} is not set"
        return ""

    return _SUBST_RE.sub(replace, value)


def read_yaml(path: Path) -> YamlDocument:
    """Parse `path`, raising `ConfigError` with the line of any syntax error.

    Failed `${...}` substitutions do not raise here: `validate` reports them together with
    every other problem of the file, so one unset variable hides nothing.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = Problem(str(path), None, "", f"cannot read file: {exc.strerror}")
        raise ConfigError([problem]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(str(path), 1, "", f"not UTF-8: {exc.reason}")]) from exc
    try:
        node, data = _compose(text)
    except _Refused as exc:
        raise ConfigError([Problem(str(path), exc.line, "", f"YAML: {exc.reason}")]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([Problem(str(path), line, "", f"YAML syntax: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), 1, "", f"YAML: {exc}")]) from exc
    doc = YamlDocument(path, data)
    if node is not None:
        doc.lines = dict(_walk(node, ()))
    doc.data = _substitute(data, (), doc.unresolved)
    return doc


def validate(
    doc: YamlDocument,
    model: type[M],
    *,
    label: Callable[[Path_], str] = dotted,
    context: dict[str, Any] | None = None,
) -> M:
    """Validate `doc` against `model`; raises `ConfigError` listing every problem."""
    validated, problems = validate_all(doc, model, label=label, context=context)
    if problems or validated is None:
        raise ConfigError(problems)
    return validated


def validate_all(
    doc: YamlDocument,
    model: type[M],
    *,
    label: Callable[[Path_], str] = dotted,
    context: dict[str, Any] | None = None,
) -> tuple[M | None, list[Problem]]:
    """`doc` as a `model` (None if it is not one), and every pydantic error and failed
    substitution as a located `Problem`, sorted by line. A model despite problems means only
    substitutions failed: what does not depend on them can still be checked."""
    if doc.data is None:
        return None, [Problem(str(doc.path), 1, "", "file is empty")]
    problems = [doc.problem(loc, message, label(loc)) for loc, message in doc.unresolved.items()]
    validated = None
    try:
        validated = model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        problems += [  # a value emptied by a failed substitution has no problem of its own
            doc.problem(tuple(err["loc"]), _message(err), label(tuple(err["loc"])))
            for err in exc.errors(include_url=False)
            if tuple(err["loc"]) not in doc.unresolved
        ]
    return validated, sorted(problems, key=lambda p: p.line or 0)


def _message(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown field (check its spelling)"
    return msg.removeprefix("Value error, ")
