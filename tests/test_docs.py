"""The docs cannot drift from the code: their examples run here, and their tables are checked
against what the code defines (config keys, commands and flags, bot commands, metrics, wire
fields, layering rules)."""

import argparse
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from tests.helpers import REPO
from tests.test_detect import fires

DOCS = REPO / "docs"
README = REPO / "README.md"
PAGES = sorted(DOCS.glob("*.md"))


# -- reading markdown --------------------------------------------------------------------------


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


_FENCE_RE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def without_code(text: str) -> str:
    """`text` with its fenced code blocks blanked, offsets kept (a `#` in a block is no
    heading, a `|` no table)."""
    return _FENCE_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def headings(text: str) -> list[tuple[int, str, int]]:
    """(level, title, offset) of every heading outside code blocks."""
    return [
        (len(m.group(1)), m.group(2).strip(), m.start())
        for m in re.finditer(r"^(#{1,6}) (.+)$", without_code(text), re.M)
    ]


def section(text: str, title: str) -> str:
    """The section under the heading `title`, up to the next heading of its level or above."""
    found = headings(text)
    for i, (level, name, start) in enumerate(found):
        if name == title:
            end = next((s for lv, _, s in found[i + 1 :] if lv <= level), len(text))
            return text[start:end]
    raise AssertionError(f"no section {title!r}")


def subsections(text: str, level: int) -> Iterator[tuple[str, str]]:
    """(title, body) of each heading of `level` in `text`, its body up to the next heading."""
    found = headings(text)
    for i, (lv, name, start) in enumerate(found):
        if lv == level:
            end = found[i + 1][2] if i + 1 < len(found) else len(text)
            yield name, text[start:end]


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block."""
    return [(m.group(1).strip(), m.group(2)) for m in _FENCE_RE.finditer(text)]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of every pipe table in `text` (header and separator rows dropped), each
    as its cells, `\\|` read as a literal bar."""
    rows: list[list[str]] = []
    lines = without_code(text).splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("|") or re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", line):
            continue
        if i + 1 < len(lines) and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1]):
            continue  # a header row
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    return rows


def ticked(cell: str) -> list[str]:
    """The `code` spans of a cell."""
    return re.findall(r"`([^`]+)`", cell)


def slug(title: str) -> str:
    """GitHub's anchor for a heading."""
    plain = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", title).strip().lower()
    return re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")


# -- the query language ------------------------------------------------------------------------


def query_examples() -> list[tuple[str, str, str, str]]:
    text = section(read(DOCS / "query-language.md"), "Operators")
    rows = re.findall(r"^\| `(.+?)` \| (\w\w) \| (.+?) \| (.+?) \|$", text, re.M)
    assert len(rows) >= 10, "the operator table was not found"
    return rows


@pytest.mark.parametrize(("query", "lang", "yes", "no"), query_examples())
def test_every_query_example_fires_where_the_docs_say(
    query: str, lang: str, yes: str, no: str
) -> None:
    assert fires(query, yes, lang=lang), f"{query!r} should fire on {yes!r}"
    assert not fires(query, no, lang=lang), f"{query!r} should not fire on {no!r}"


def test_every_query_block_of_the_docs_parses() -> None:
    from detect.watchlist import Watchlist

    queries = [
        line
        for page in PAGES
        for info, body in code_blocks(read(page))
        if info == "query"
        for line in body.splitlines()
        if line.strip()
    ]
    assert len(queries) >= 3
    for i, query in enumerate(queries):
        rule = {"id": f"r{i}", "query": query}
        Watchlist.model_validate({"id": "w", "title": "W", "rules": [rule]})


# -- keys of the config and of watchlists --------------------------------------------------------


def _models_in(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model an annotation holds (`Model`, `Model | None`, `list[Model]`), and whether it
    is a list of them."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _models_in(inner[0]) if len(inner) == 1 else (None, False)
    if origin is list:
        model, _ = _models_in(typing.get_args(annotation)[0])
        return model, model is not None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


@dataclass(frozen=True)
class Key:
    name: str
    info: FieldInfo
    section: bool  # a mapping of further keys (a model), not a value


def model_keys(model: type[BaseModel], prefix: str = "") -> Iterator[Key]:
    """Every key of a pydantic model in dotted form (`notify.telegram.bot.enabled`), lists of
    mappings as `feeds[].url`, sections included."""
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        inner, is_list = _models_in(info.annotation)
        if inner is None:
            yield Key(key, info, section=False)
            continue
        if not is_list:
            yield Key(key, info, section=True)
        yield from model_keys(inner, f"{key}[]." if is_list else f"{key}.")


def key_table(text: str) -> dict[str, str]:
    """`key` → default cell of a `| key | default | meaning |` table."""
    table: dict[str, str] = {}
    for cells in table_rows(text):
        assert len(cells) == 3 and re.fullmatch(r"`[^`]+`", cells[0]), f"not a key row: {cells}"
        key = cells[0].strip("`")
        assert key not in table, f"{key} is in the table twice"
        table[key] = cells[1]
    return table


def check_default(key: Key, cell: str) -> None:
    """The default a table states is the model's: a `value` is read as YAML and validated as
    the field would validate it; "unset" or "—" stand for no default, or None."""
    info = key.info
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    stated = re.match(r"`([^`]*)`", cell)
    if stated is None:
        assert cell.startswith(("unset", "—")), f"{key.name}: default {cell!r}"
        assert default is None, f"{key.name}: the model's default is {default!r}, not {cell!r}"
        return
    assert not key.section, f"{key.name} is a section: its default is its keys'"
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated[(annotation, *info.metadata)]
    value = TypeAdapter(annotation).validate_python(yaml.safe_load(stated.group(1)))
    assert value == default, f"{key.name}: the docs say {stated.group(1)}, the model {default!r}"


def check_keys(model: type[BaseModel], table: dict[str, str]) -> None:
    keys = {k.name: k for k in model_keys(model)}
    leaves = {name for name, k in keys.items() if not k.section}
    assert not leaves - table.keys(), f"keys missing from the docs: {sorted(leaves - table.keys())}"
    assert not table.keys() - keys.keys(), f"not keys of the model: {sorted(table.keys() - keys)}"
    for name, cell in table.items():
        check_default(keys[name], cell)


def test_every_config_key_is_documented_with_its_default() -> None:
    from services.config import Config

    text = section(read(DOCS / "configuration.md"), "Every key")
    check_keys(Config, key_table(text))


def test_every_watchlist_key_is_documented_with_its_default() -> None:
    from detect.watchlist import Watchlist

    text = section(read(DOCS / "query-language.md"), "Watchlist files")
    check_keys(Watchlist, key_table(text))


def test_every_wire_field_is_documented() -> None:
    from detect.model import Alert
    from ingest.model import Article

    text = section(read(DOCS / "architecture.md"), "Wire contracts")
    for model in (Article, Alert):
        part = text.split(f"`{model.__name__}` (", 1)[1].split("\n\n", 2)[1]
        documented = {name for cells in table_rows(part) for name in ticked(cells[0])}
        assert documented == set(model.model_fields), f"{model.__name__}: {documented}"


# -- commands ------------------------------------------------------------------------------------


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, set[str]]:
    """`feeds status` → the option strings of that (sub)command, from the real parser."""
    found: dict[str, set[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = subcommands(sub, f"{prefix}{name} ")
                if nested:
                    found.update(nested)
                else:
                    found[f"{prefix}{name}"] = {
                        flag for flag in sub._option_string_actions if flag.startswith("--")
                    } - {"--help"}
    return found


def cli() -> tuple[dict[str, set[str]], set[str]]:
    from services.cli import build_parser

    parser = build_parser()
    common = {flag for flag in parser._option_string_actions if flag.startswith("--")}
    return subcommands(parser), common


def test_every_command_and_flag_is_in_commands_md() -> None:
    commands, common = cli()
    text = read(DOCS / "commands.md")
    documented: set[str] = set()
    for title, body in subsections(text, 3):
        named = [name for name in ticked(title) if name in commands]
        if not named:
            continue
        documented.update(named)
        flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", body))
        known = set().union(*(commands[name] for name in named))
        assert flags <= known | common | {"--help"}, f"{title}: not flags: {flags - known}"
        for name in named:
            assert commands[name] <= flags, f"{name}: undocumented {commands[name] - flags}"
    assert documented == commands.keys(), f"missing: {sorted(commands.keys() - documented)}"
    intro = text.split("\n## ", 1)[0]
    assert common <= set(re.findall(r"--[a-z-]+", intro)), "the common options"


def test_the_readme_lists_every_command() -> None:
    commands, _ = cli()
    listed = {
        name
        for item in re.findall(r"^- (.+?):", section(read(README), "Commands"), re.M)
        for name in ticked(item)
    }
    assert listed == commands.keys(), f"README commands: {sorted(listed ^ commands.keys())}"


def bot_commands() -> set[str]:
    from aiogram.filters import Command

    from notify.bot import BotHandlers, Policy
    from notify.subscriptions import Subscriptions

    router = BotHandlers(Subscriptions(sqlite3.connect(":memory:")), {}, Policy()).router()
    names: set[str] = set()
    for observer in (router.message, router.channel_post):
        for handler in observer.handlers:
            for f in handler.filters or []:
                if isinstance(f.callback, Command):
                    names.update(str(c) for c in f.callback.commands)
    return names


def test_every_bot_command_is_documented() -> None:
    text = section(read(DOCS / "commands.md"), "The Telegram bot")
    documented = {
        re.match(r"/(\w+)", name).group(1)  # type: ignore[union-attr]
        for cells in table_rows(text)
        for name in ticked(cells[0])
    }
    registered = bot_commands()
    assert len(registered) >= 10
    assert documented == registered, f"bot commands: {sorted(documented ^ registered)}"


# -- metrics -------------------------------------------------------------------------------------


def exported_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """Every metric the services define, as exposed (`_total` for counters): type, labels."""
    from prometheus_client import CollectorRegistry

    from ingest.health import summarize
    from services import metrics as m

    registry = CollectorRegistry()
    m.KafkaMetrics.create(registry, ["group"])
    m.IngestMetrics.create(registry)
    m.DetectMetrics.create(registry, ["event"])
    m.NotifyMetrics.create(registry)
    m.ConsumeMetrics.create(registry, "service")
    registry.register(m.FeedHealthCollector(lambda now: summarize([], {}, now), lambda: 0))
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for family in registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {label for s in family.samples for label in s.labels} - {"le"}
        found[name] = (family.type, frozenset(labels))
    return found


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    text = section(read(DOCS / "operations.md"), "Metrics")
    documented = {
        cells[0].strip("`"): (cells[1], frozenset(ticked(cells[2]))) for cells in table_rows(text)
    }
    exported = exported_metrics()
    differ = sorted(documented.keys() ^ exported.keys())
    assert not differ, f"metrics in the docs or the code only: {differ}"
    for name, (kind, labels) in exported.items():
        assert documented[name] == (kind, labels), f"{name}: the code has {kind} {set(labels)}"
    others = set(re.findall(r"mediawatch_\w+", "".join(read(p) for p in [*PAGES, README])))
    assert others <= exported.keys(), f"not metrics: {sorted(others - exported.keys())}"


# -- YAML examples -------------------------------------------------------------------------------


def yaml_examples(info: str) -> list[tuple[str, str]]:
    return [
        (path.name, body)
        for path in [README, *PAGES]
        for found, body in code_blocks(read(path))
        if found == info
    ]


def test_every_yaml_example_is_a_valid_watchlist_or_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from detect.watchlist import Watchlist
    from services.config import load_config

    kinds = {"watchlist": 0, "config": 0}
    for i, (page, block) in enumerate(yaml_examples("yaml")):
        data = yaml.safe_load(block)
        assert isinstance(data, dict), f"{page}: {block}"
        if "rules" in data:
            Watchlist.model_validate(data)
            kinds["watchlist"] += 1
            continue
        for name in re.findall(r"\$\{([A-Za-z_]\w*)\}", block):  # as its reader would set them
            monkeypatch.setenv(name, "secret")
        path = tmp_path / f"example-{i}.yaml"
        path.write_text(block, encoding="utf-8")
        load_config(path)  # raises ConfigError naming every problem
        kinds["config"] += 1
    assert kinds["watchlist"] >= 2 and kinds["config"] >= 1, kinds


def test_the_invalid_config_example_prints_what_the_docs_say(tmp_path: Path) -> None:
    text = section(read(DOCS / "configuration.md"), "Errors")
    blocks = dict(code_blocks(text))
    (tmp_path / "mediawatch.yaml").write_text(blocks["yaml invalid"], encoding="utf-8")
    (tmp_path / "watchlists").symlink_to(REPO / "watchlists")
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "check", "--config", "mediawatch.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == blocks["text"]


# -- messages ------------------------------------------------------------------------------------

_ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")


def test_the_telegram_message_example_is_what_notify_renders() -> None:
    from detect.matcher import build_matcher
    from ingest.model import Article
    from notify.render import render_story_html
    from services.config import WatchlistFiles

    blocks = dict(code_blocks(section(read(DOCS / "commands.md"), "What a message looks like")))
    now = datetime.now(UTC)
    article = Article.model_validate({**json.loads(blocks["json"]), "ingested_at": now})
    matcher = build_matcher(WatchlistFiles(("watchlists",), REPO).load())
    alerts = matcher.match(article, now=now)
    assert render_story_html(alerts).translate(_ISOLATES) == blocks["html"].rstrip("\n")


# -- the README ------------------------------------------------------------------------------------

#: Quick-start lines that are not run here, with the reason each carries as its comment.
NOT_RUN = ("# needs the network", "# runs until Ctrl-C")


def quick_start() -> list[str]:
    lines: list[str] = []
    for info, body in code_blocks(section(read(README), "Quick start")):
        if info == "sh":
            lines += [line.strip() for line in body.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line]


@dataclass(frozen=True)
class Ran:
    line: str
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def quick_start_run(tmp_path_factory: pytest.TempPathFactory) -> list[Ran]:
    """Every quick-start line, in order, as a user types it in a fresh clone: in a directory
    that links to every file of the repo but none of its state (`.venv`, `data`), so that what
    the lines write (`articles.jsonl`) stays out of the checkout. `.venv/bin/mediawatch` is
    this interpreter's `-m services.cli`."""
    clone = tmp_path_factory.mktemp("clone")
    for entry in REPO.iterdir():
        if entry.name not in {".git", ".venv", "data"} and not entry.name.endswith("_cache"):
            (clone / entry.name).symlink_to(entry)
    mediawatch = f"{shlex.quote(sys.executable)} -m services.cli"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ran = []
    for line in quick_start():
        if any(reason in line for reason in NOT_RUN):
            continue
        assert ".venv/bin/mediawatch" in line, f"a quick-start line this test cannot run: {line}"
        command = line.replace(".venv/bin/mediawatch", mediawatch)
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            capture_output=True,
            text=True,
            cwd=clone,
            env=env,
            timeout=100,
        )
        ran.append(Ran(line, result.returncode, result.stdout, result.stderr))
    return ran


def test_the_readme_quick_start_works_line_by_line(quick_start_run: list[Ran]) -> None:
    lines = quick_start()
    skipped = [line for line in lines if any(reason in line for reason in NOT_RUN)]
    assert len(skipped) <= 2 and len(quick_start_run) >= 7, (skipped, len(quick_start_run))
    commands = " ".join(lines)
    for name in ("demo", "check", "match", "fetch", "replay", "feeds status"):
        assert f".venv/bin/mediawatch {name}" in commands, f"the quick start shows no {name}"
    for ran in quick_start_run:
        assert ran.returncode == 0, f"{ran.line}\n{ran.stderr[-2000:]}"


def test_the_readme_demo_output_is_what_the_demo_prints(quick_start_run: list[Ran]) -> None:
    (demo,) = [ran for ran in quick_start_run if ran.line.startswith(".venv/bin/mediawatch demo")]
    printed = demo.stdout.translate(_ISOLATES).splitlines()
    blocks = [
        b for kind, b in code_blocks(section(read(README), "What the demo shows")) if kind == "text"
    ]
    shown = [line for b in blocks for line in b.splitlines() if line.strip() not in ("", "...")]
    assert len(blocks) == 3 and len(shown) >= 12, "roles, one story across languages, escalation"
    for line in shown:
        if line.endswith("…"):  # elided in the README: the demo's line starts so
            assert any(p.startswith(line[:-1]) for p in printed), f"demo does not print {line}"
        else:
            assert line in printed, f"the demo does not print {line!r}"


def test_the_readme_is_an_overview_that_starts_with_the_make_commands() -> None:
    lines = read(README).splitlines()
    assert lines[2].startswith("    make run ") and lines[3].startswith("    make test ")
    assert len(lines) <= 150, "the README is a quick start and an overview; reference is in docs/"
    listed = re.findall(r"^- \[[^\]]+\]\(docs/([\w-]+\.md)\)", read(README), re.M)
    assert sorted(listed) == [p.name for p in PAGES], "the README's Documentation list"


# -- links and citations ---------------------------------------------------------------------------


def test_every_relative_link_of_the_readme_and_docs_resolves() -> None:
    checked = 0
    for page in [README, *PAGES]:
        for target in re.findall(r"\]\(([^)\s]+)\)", without_code(read(page))):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            assert resolved.exists(), f"{page.name} links to {target}"
            if anchor and resolved.suffix == ".md":
                anchors = {slug(title) for _, title, _ in headings(read(resolved))}
                assert anchor in anchors, f"{page.name} links to {target}: no such heading"
            checked += 1
    assert checked >= 20


#: Files whose comments cite files of other repositories (where each feed URL was seen).
FEED_LISTS = {"mediawatch.yaml", "default-feeds.yaml"}
SOURCES = {".py", ".yaml", ".yml", ".toml", ".md"}


def cited_files() -> Iterator[tuple[Path, str]]:
    """(file, cited name) of every `*.md` a source file or config of the repo names."""
    for top in REPO.iterdir():
        if top.name in {".git", ".venv", "data"} or top.name.endswith("_cache"):
            continue
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if (path.suffix not in SOURCES and path.name != "Makefile") or path.name in FEED_LISTS:
                continue
            if path.relative_to(REPO).parts[:2] == ("tests", "data") or not path.is_file():
                continue
            for name in re.findall(r"(?<![\w/.-])([\w./-]*[A-Za-z]\.md)\b", read(path)):
                yield path, name


def test_every_markdown_file_the_repo_cites_exists() -> None:
    seen = 0
    for path, name in cited_files():
        candidates = [REPO / name, path.parent / name, DOCS / name]
        assert any(c.exists() for c in candidates), f"{path.relative_to(REPO)} cites {name}"
        seen += 1
    assert seen >= 10


def test_every_docs_section_the_code_cites_exists() -> None:
    cited = 0
    for path in [*REPO.glob("*/*.py"), REPO / "Makefile", REPO / "mediawatch.yaml"]:
        for page, title in re.findall(r"(docs/[\w-]+\.md) \"([^\"]+)\"", read(path)):
            titles = [t for _, t, _ in headings(read(REPO / page))]
            assert title in titles, f"{path.relative_to(REPO)} cites {page} {title!r}"
            cited += 1
    assert cited >= 2


def test_the_layering_table_is_what_test_architecture_enforces() -> None:
    from tests.test_architecture import ALLOWED, PROJECT

    text = section(read(DOCS / "architecture.md"), "Layering rules")
    documented = {
        cells[0].strip("`"): {
            name.split(".")[0] for name in ticked(cells[1]) if name.split(".")[0] in PROJECT
        }
        for cells in table_rows(text)
    }
    assert documented == ALLOWED
    # the two narrower rules of test_architecture.py: one model each from upstream
    assert "only `ingest.model`" in text and "only `detect.model`" in text
