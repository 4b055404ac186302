"""The `mediawatch` command line: one entry point for every process and offline tool."""

import argparse
import asyncio
import glob
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_core import from_json

from detect.matcher import ArticleMatcher, build_matcher
from ingest.model import Article
from services.config import (
    CheckReport,
    LoadedConfig,
    WatchlistFiles,
    check_config,
    check_watchlists,
    is_watchlist_file,
    load_config,
)
from services.errors import ServiceError
from services.lifecycle import JobFailed
from services.runtime import resolve_format, setup_logging
from services.yamlfile import ConfigError, Problem

DEFAULT_CONFIG = Path("mediawatch.yaml")


def _article_input(p: argparse.ArgumentParser) -> None:
    """The watchlists and the JSON-lines input of `match` and `replay`, in the same forms."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"take the watchlists from this config (default: {DEFAULT_CONFIG})",
    )
    group.add_argument(
        "--watchlists",
        nargs="+",
        metavar="PATH",
        help="watchlist files (.yaml, .yml), directories or globs; a last PATH that is none "
        "of these (articles.jsonl, -) is the INPUT",
    )
    p.add_argument(
        "input",
        nargs="?",
        metavar="INPUT",
        help="JSON-lines file of articles, or - for stdin (the default)",
    )


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="config file (default: %(default)s)",
    )


def _add_status_interval(p: argparse.ArgumentParser, default: float) -> None:
    p.add_argument(
        "--status-interval",
        type=float,
        default=default,
        metavar="SECONDS",
        help="log a status line (feeds, articles, alerts, messages, lag) this often; 0: never "
        "(default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mediawatch",
        description="Watch news feeds and alert on what watchlists ask for, in Arabic and English.",
        epilog="Run 'mediawatch COMMAND --help' for a command's options.",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="default: info",
    )
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=["auto", "text", "json"],
        help="logs on stderr: readable lines on a terminal, JSON lines otherwise (auto, the "
        "default), or as asked",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="run the whole pipeline (and the embedded broker by default)",
        description="Start ingest, detect and notify as child processes, plus the "
        "embedded Kafka broker when kafka.bootstrap is 'embedded'. Their metrics "
        "are on metrics.port, +1 and +2. A service that dies is restarted, and so is an "
        "embedded broker. Ctrl-C stops ingest first and lets detect and notify finish what is "
        "in the topics (a second Ctrl-C stops at once).",
    )
    _add_config(p)
    _add_status_interval(p, 60.0)
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="at shutdown, how long detect and notify may take to catch up (default: %(default)s)",
    )

    for name, what in (
        ("ingest", "poll feeds and publish articles"),
        ("detect", "match articles against watchlists and publish alerts"),
        ("notify", "deliver alerts to console, Telegram and Slack"),
    ):
        p = sub.add_parser(
            name,
            help=f"run the {name} service alone: {what}",
            description=f"Run the {name} service alone ({what}). Needs a reachable "
            "Kafka: kafka.bootstrap from the config, or --bootstrap.",
        )
        _add_config(p)
        p.add_argument(
            "--bootstrap",
            metavar="HOST:PORT[,...]",
            help="Kafka bootstrap servers, overriding kafka.bootstrap",
        )
        p.add_argument(
            "--metrics-port",
            type=int,
            metavar="PORT",
            help="port of /metrics, /healthz and /livez, overriding metrics.port (0: any)",
        )
        _add_status_interval(p, 60.0)
        if name == "ingest":
            p.add_argument(
                "--shard",
                metavar="I/N",
                help="poll only replica I's share of N (0-based), overriding ingest.shard",
            )

    p = sub.add_parser(
        "demo",
        help="offline demo on the bundled sample feeds",
        description="Serve the sample feeds on a loopback port, run the pipeline "
        "on the embedded broker, print each alert as it is delivered, and exit 0 "
        "once every sample article has gone through every stage.",
    )
    p.add_argument(
        "--jsonl",
        action="store_true",
        help="print one Alert JSON object per line on stdout (logs go to stderr)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=90.0,
        metavar="SECONDS",
        help="give up after this long (default: %(default)s)",
    )

    p = sub.add_parser(
        "check",
        help="validate the config and every watchlist, or standalone watchlists",
        description="Validate the config file and the watchlists it names (given a "
        "watchlist file as --config, that watchlist), or with --watchlists only those "
        "watchlists. Prints FILE:LINE: field: message for every problem at once and exits 1, "
        "or a summary and exits 0.",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="config file (default: %(default)s)",
    )
    group.add_argument(
        "--watchlists",
        nargs="+",
        metavar="PATH",
        help="check these watchlist files, directories or globs, without a config",
    )

    p = sub.add_parser(
        "replay",
        help="back-test: replay articles with timestamps through detect, stories, escalation",
        description="Read articles as JSON lines (as for match, with published_at required), "
        "in publication order, through what the pipeline would do to them: same-language "
        "story grouping, the watchlists, one story across languages, the escalation test. "
        "Write one JSON line per alert and per escalation, with the time it would have been "
        "sent. Nothing is sent; no broker is needed.",
    )
    _article_input(p)
    p.add_argument(
        "--charts",
        type=Path,
        metavar="DIR",
        help="write each escalation's chart (the PNG Telegram would get) into DIR",
    )

    p = sub.add_parser(
        "match",
        help="match JSON-lines articles offline (test a watchlist)",
        description="Read articles as JSON lines ({id, title, text, lang?, url?, "
        "published_at?, source?}) and write exactly one line per article: "
        '{"id": ..., "alerts": [...]}. Blank lines are skipped; a line that is '
        'not a valid article gets {"id": ..., "alerts": [], "error": ...} and '
        "the exit code is 1.",
    )
    _article_input(p)

    p = sub.add_parser(
        "fetch",
        help="fetch and parse one feed, print its articles as JSON lines",
        description="Fetch one feed (http(s) URL) or read one feed file, parse it as ingest "
        "would, and print one Article JSON object per line on stdout. On failure: one line "
        "on stderr and exit 2.",
    )
    p.add_argument("source", metavar="URL_OR_FILE", help="feed URL or path of a feed file")
    p.add_argument("--lang", metavar="CODE", help="language to assume (as feeds[].lang)")
    p.add_argument("--name", metavar="NAME", help="source name (default: host or file name)")
    p.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="default: %(default)s"
    )
    p.add_argument(
        "--allow-private-networks",
        action="store_true",
        help="let the URL (and its redirects) reach loopback and private addresses, as "
        "ingest.allow_private_networks does",
    )

    p = sub.add_parser(
        "feeds",
        help="import or export the feed list as OPML",
        description="Move the feed list between mediawatch and other feed readers (OPML 2.0).",
    )
    feeds_sub = p.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    q = feeds_sub.add_parser(
        "import",
        help="print the feeds of an OPML file as YAML feeds: entries",
        description="Read an OPML file and print its feeds as a YAML 'feeds:' list on stdout, "
        "ready to paste into the config. With --config, feeds already configured are left "
        "out. Entries that are not http(s) feeds are reported on stderr and skipped. "
        "Exit 2 if the file cannot be read or is not OPML.",
    )
    q.add_argument("opml", type=Path, metavar="FILE.opml")
    q.add_argument(
        "--config", type=Path, metavar="FILE", help="leave out feeds this config already has"
    )
    q = feeds_sub.add_parser(
        "export",
        help="print the config's feeds as OPML 2.0",
        description="Write the feeds of the config file as an OPML 2.0 document on stdout.",
    )
    _add_config(q)
    q = feeds_sub.add_parser(
        "status",
        help="show each feed's health from ingest's state",
        description="Read ingest's SQLite state (under storage.path) and print one line per "
        "configured feed: health (ok, pending, failing, unhealthy), error streak, last good "
        "poll, next poll, URL and last error. Failing feeds are never dropped, so they show "
        "here until they recover. Exit 1 when any feed is unhealthy.",
    )
    _add_config(q)
    q.add_argument("--json", action="store_true", help="one JSON object per feed instead")
    return parser


def _print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


def _missing_config(path: Path) -> None:
    if not path.exists():
        problem = Problem(str(path), None, "", "config file not found (pass --config FILE)")
        raise ConfigError([problem])


def _load(path: Path) -> LoadedConfig:
    _missing_config(path)
    return load_config(path)


def _checked(report: CheckReport) -> CheckReport:
    if report.problems:
        raise ConfigError(report.problems)
    return report


def cmd_check(args: argparse.Namespace) -> int:
    if args.watchlists:
        report = check_watchlists(WatchlistFiles(tuple(args.watchlists), Path.cwd()))
    elif is_watchlist_file(args.config):  # docs/commands.md "`check`"
        report = check_watchlists(WatchlistFiles((str(args.config),), Path.cwd()))
    else:
        _missing_config(args.config)
        report = check_config(args.config)
    print(_checked(report).summary)
    return 0


def _match_input(lines: Iterator[str], matcher: ArticleMatcher, out: IO[str]) -> int:
    """One JSON line out per article in. An article without `lang` gets the language ingest
    would guess for it (the analysers depend on it); alerts are printed without their
    `vector` (an embedding for notify, not for reading)."""
    errors = 0
    guesser: Any = None
    for line in lines:
        if not line.strip():
            continue
        record: Any = None
        try:
            record = from_json(line)  # json.loads would raise RecursionError when deep
            if not isinstance(record, dict):
                raise ValueError("each line must be a JSON object")
            now = datetime.now(UTC)
            article = Article(
                id=str(record["id"]),
                url=record.get("url") or "",
                title=record.get("title") or "",
                text=record.get("text") or "",
                source=record.get("source") or "match",
                lang=record.get("lang"),
                published_at=record.get("published_at"),
                ingested_at=now,
            )
            if article.lang is None and (article.title or article.text):
                if guesser is None:
                    from ingest.language import LanguageGuesser

                    guesser = LanguageGuesser()
                guessed = guesser.guess(article.title, article.text)
                article = article.model_copy(update={"lang": guessed}) if guessed else article
            alerts = [
                a.model_dump(mode="json", exclude={"vector"})
                for a in matcher.match(article, now=now)
            ]
            result: dict[str, Any] = {"id": record["id"], "alerts": alerts}
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            errors += 1
            reason = (
                f"missing field {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
            )
            ident = record.get("id") if isinstance(record, dict) else None
            result = {"id": ident, "alerts": [], "error": reason}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if errors else 0


def _is_match_input(path: str) -> bool:
    """Whether a path given after --watchlists is the articles, not a watchlist: `-`, or a
    file that is neither YAML, nor a directory, nor a glob."""
    if path == "-":
        return True
    return not (
        Path(path).suffix.lower() in (".yaml", ".yml")
        or Path(path).is_dir()
        or glob.has_magic(path)
    )


def _match_sources(args: argparse.Namespace) -> tuple[WatchlistFiles, str]:
    """The watchlists and the input of `match`. `--watchlists DIR FILE` is the documented
    form, but argparse gives FILE to --watchlists (it takes one or more): take it back."""
    if args.watchlists is None:
        loaded = _load(args.config or DEFAULT_CONFIG)
        return WatchlistFiles.of(loaded), args.input or "-"
    patterns = list(args.watchlists)
    source = args.input
    if source is None and len(patterns) > 1 and _is_match_input(patterns[-1]):
        source = patterns.pop()
    return WatchlistFiles(tuple(patterns), Path.cwd()), source or "-"


def cmd_match(args: argparse.Namespace) -> int:
    watchlists, source = _match_sources(args)
    matcher = build_matcher(watchlists.load())
    if source == "-":
        return _match_input(iter(sys.stdin), matcher, sys.stdout)
    try:
        with open(source, encoding="utf-8") as handle:
            return _match_input(iter(handle), matcher, sys.stdout)
    except OSError as exc:
        print(f"{source}: {exc.strerror}", file=sys.stderr)
        return 2


def cmd_replay(args: argparse.Namespace) -> int:
    from services.replay import read_articles, replay

    watchlists, source = _match_sources(args)  # the same forms as match
    matcher = build_matcher(watchlists.load())
    try:
        if source == "-":
            lines = sys.stdin.read().splitlines()
        else:
            lines = Path(source).read_text(encoding="utf-8").splitlines()
        articles = read_articles(lines)
    except OSError as exc:
        print(f"{source}: {exc.strerror}", file=sys.stderr)
        return 2
    except (ValueError, ValidationError) as exc:
        print(f"{source}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    for line in replay(matcher, articles, args.charts):
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    from services.serve import serve

    loaded = _load(args.config)
    if getattr(args, "shard", None):
        from ingest.schedule import Shard

        try:
            Shard.parse(args.shard)
        except ValueError as exc:
            print(f"--shard: {exc}", file=sys.stderr)
            return 2
        ingest = loaded.config.ingest.model_copy(update={"shard": args.shard})
        loaded = LoadedConfig(loaded.config.model_copy(update={"ingest": ingest}), loaded.doc)
    bootstrap = args.bootstrap or loaded.config.kafka.bootstrap
    if bootstrap == "embedded":
        print(
            f"{args.config}: kafka.bootstrap is 'embedded', which only 'mediawatch run' can "
            "start; pass --bootstrap HOST:PORT or run 'mediawatch run'",
            file=sys.stderr,
        )
        return 2
    asyncio.run(
        serve(
            args.command,
            loaded,
            bootstrap,
            args.metrics_port,
            status_interval_s=args.status_interval,
        )
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from services.run_all import run_all

    _missing_config(args.config)
    loaded = _checked(check_config(args.config)).loaded
    assert loaded is not None  # a report without problems has the config
    return asyncio.run(
        run_all(
            loaded,
            args.log_level,
            resolve_format(args.log_format),
            status_interval_s=args.status_interval,
            drain_timeout_s=args.drain_timeout,
        )
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from services.demo import run_demo

    return asyncio.run(run_demo(jsonl=args.jsonl, timeout_s=args.timeout))


def _source_name(source: str) -> str:
    if "://" in source:
        return urlsplit(source).hostname or source
    return Path(source).stem


async def _fetch_one(url: str, timeout_s: float, allow_private: bool) -> tuple[bytes, str | None]:
    from ingest.fetch import FetchLimits, Validators, client_session, fetch_feed

    async with client_session(allow_private_networks=allow_private) as session:
        result = await fetch_feed(session, url, Validators(), limits=FetchLimits(timeout_s))
    return result.body or b"", result.content_type


def cmd_fetch(args: argparse.Namespace) -> int:
    from ingest.errors import IngestError
    from ingest.language import LanguageGuesser, with_languages
    from ingest.parse import parse_document

    source: str = args.source
    try:
        if source.startswith(("http://", "https://")):
            body, content_type = asyncio.run(
                _fetch_one(source, args.timeout, args.allow_private_networks)
            )
        else:
            body, content_type = Path(source).read_bytes(), None
        articles = parse_document(
            body,
            feed_url=source,
            source=args.name or _source_name(source),
            lang=args.lang,
            content_type=content_type,
        ).articles
        if any(a.lang is None for a in articles):
            articles = with_languages(articles, LanguageGuesser())
    except IngestError as exc:
        print(f"fetch: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fetch: {source}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for article in articles:
        sys.stdout.write(article.model_dump_json() + "\n")
    return 0


def cmd_feeds(args: argparse.Namespace) -> int:
    return FEEDS_COMMANDS[args.feeds_command](args)


def cmd_feeds_import(args: argparse.Namespace) -> int:
    import yaml

    from ingest.errors import OpmlError
    from ingest.opml import read_opml
    from services.feedlist import to_entry

    known: set[str] = set()
    if args.config is not None:
        known = {feed.url for feed in _load(args.config).config.feeds}
    try:
        found = read_opml(args.opml.read_bytes(), source=str(args.opml))
    except OSError as exc:
        print(f"{args.opml}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except OpmlError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    entries: list[dict[str, Any]] = []
    already = 0
    for feed in found:
        entry, notes = to_entry(feed)
        for note in notes:
            print(f"{args.opml}: {note}", file=sys.stderr)
        if entry is None:
            continue
        if feed.url in known:
            already += 1
            continue
        entries.append(entry)
    if already:
        print(f"{args.opml}: {already} feeds already in {args.config} left out", file=sys.stderr)
    sys.stdout.write(yaml.safe_dump({"feeds": entries}, allow_unicode=True, sort_keys=False))
    return 0


def cmd_feeds_export(args: argparse.Namespace) -> int:
    from ingest.opml import write_opml
    from services.feedlist import to_outline

    loaded = _load(args.config)
    sys.stdout.buffer.write(write_opml(to_outline(f) for f in loaded.config.feeds))
    sys.stdout.flush()
    return 0


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def cmd_feeds_status(args: argparse.Namespace) -> int:
    import time

    from ingest.state import FeedStatus, IngestState

    loaded = _load(args.config)
    path = loaded.storage_dir / "ingest.sqlite"
    statuses: dict[str, FeedStatus] = {}
    if path.exists():
        state = IngestState(path)
        try:
            statuses = state.statuses()
        finally:
            state.close()
    now = time.time()
    unhealthy = 0
    if not args.json:
        print(f"{'HEALTH':<10} {'STREAK':>6}  {'LAST OK (UTC)':<19}  {'NEXT (UTC)':<19}  FEED")
    for feed in loaded.config.feeds:
        status = statuses.get(feed.url)
        health = status.health(now) if status else "pending"
        unhealthy += health == "unhealthy"
        streak = status.error_streak if status else 0
        if args.json:
            record = {
                "url": feed.url,
                "name": feed.name,
                "health": health,
                "error_streak": streak,
                "last_ok": _when(status.last_ok) if status else None,
                "failing_since": _when(status.failing_since) if status else None,
                "next_due": _when(status.next_due) if status else None,
                "last_error": status.last_error if status else None,
            }
            print(json.dumps(record, ensure_ascii=False))
            continue
        line = (
            f"{health:<10} {streak:>6}  {_when(status.last_ok if status else None):<19}  "
            f"{_when(status.next_due if status else None):<19}  {feed.url}"
        )
        if status and status.last_error:
            line += f"  ({status.last_error}; failing since {_when(status.failing_since)})"
        print(line)
    return 1 if unhealthy else 0


FEEDS_COMMANDS = {
    "import": cmd_feeds_import,
    "export": cmd_feeds_export,
    "status": cmd_feeds_status,
}

COMMANDS = {
    "fetch": cmd_fetch,
    "feeds": cmd_feeds,
    "check": cmd_check,
    "match": cmd_match,
    "replay": cmd_replay,
    "run": cmd_run,
    "demo": cmd_demo,
    "ingest": cmd_service,
    "detect": cmd_service,
    "notify": cmd_service,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet = args.command in {"check", "match", "replay", "demo", "fetch", "feeds"}
    setup_logging("warning" if quiet else args.log_level, args.log_format)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        _print_problems(exc.problems)
        return 1
    except ServiceError as exc:  # a port in use, a broker that cannot start: one line
        print(f"mediawatch {args.command}: {exc}", file=sys.stderr)
        return 2
    except JobFailed as exc:  # logged with its traceback where it happened
        print(f"mediawatch {args.command}: stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mediawatch fetch URL | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
