"""Ingest at scale: poll N local feeds in full, conditionally, and changed; print JSON figures.

    .venv/bin/python bench/ingest_scale.py [--feeds 2000] [--runs 3] [--naive-feeds 200] [--bare]

A feed server (ETag/Last-Modified, in a child process so its CPU is not counted) serves N feeds
of 20-100 items each (English and Arabic pseudo-words, no language declared). Each run polls
every feed through ingest's real path (worker pool, shared session, fetch, encoding, feedparser,
SQLite seen-index, language guessing and story grouping of new articles; `--bare` without the
last two) with a no-op publisher in place of Kafka, three times: in full (every body parsed,
every article new), conditionally (every answer a 304), and after every feed published two new
items (a real poll of a changed feed: the whole body parsed, two articles new). Medians over the
runs. The naive baseline is sequential `feedparser.parse(url)` (its own urllib fetch, no
conditional GET, no dedup) over the first `--naive-feeds` feeds. The projection is the CPU, in
cores, that 10,000 feeds polled every 5 minutes would need if every poll were of one kind.
"""

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import feedparser
from prometheus_client import CollectorRegistry

from ingest.fetch import client_session
from ingest.journal import Position
from ingest.language import LanguageGuesser
from ingest.model import Article
from ingest.poller import Feed, FeedPoller, PollOutcome
from ingest.pool import run_pool
from ingest.state import IngestState
from services.config import FeedConfig, IngestConfig
from services.feed_server import FeedServer, ServedFeed
from services.ingest_service import story_index
from services.metrics import IngestMetrics


def vocabulary(letters: str, size: int, rng: random.Random) -> list[str]:
    """Pseudo-words: a vocabulary as varied as news, so articles are not near-duplicates."""
    return ["".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(size)]


_VOCAB_RNG = random.Random(7)
WORDS_EN = vocabulary("abcdefghijklmnopqrstuvwxyz", 5000, _VOCAB_RNG)
WORDS_AR = vocabulary("ابتثجحخدذرزسشصضطظعغفقكلمنهوي", 5000, _VOCAB_RNG)


def make_feed(index: int, rng: random.Random) -> bytes:
    """An RSS 2.0 feed of 20-100 items, about half of them Arabic."""
    items = []
    words = WORDS_AR if index % 2 else WORDS_EN
    for n in range(rng.randint(20, 100)):
        title = " ".join(rng.choices(words, k=8))
        text = " ".join(rng.choices(words, k=60))
        items.append(
            f"<item><title>{title} {index}-{n}</title>"
            f"<link>https://site{index % 400}.example/{index}/{n}</link>"
            f"<guid>https://site{index % 400}.example/{index}/{n}</guid>"
            f"<pubDate>Tue, 24 Nov 2026 0{n % 10}:00:00 GMT</pubDate>"
            f"<description>&lt;p&gt;{text}&lt;/p&gt;</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {index}</title><link>https://site{index}.example/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def serve(feeds: int, conn: Connection) -> None:
    """Child process: serve the feeds until the parent closes the pipe."""

    async def main() -> None:
        server = FeedServer()
        rng = random.Random(42)
        for i in range(feeds):
            server.feeds[f"f{i}.xml"] = ServedFeed(make_feed(i, rng))
        await server.start()
        conn.send(server.port)
        bumps = 0
        while await asyncio.get_running_loop().run_in_executor(None, conn.recv) == "bump":
            bumps += 1  # every feed publishes two new items (new body, new ETag)
            for name, feed in server.feeds.items():
                new = "".join(
                    f"<item><title>Fresh {name} {bumps}-{k} {' '.join(rng.choices(WORDS_EN, k=8))}"
                    f"</title><link>https://new.example/{name}/{bumps}/{k}</link>"
                    f"<description>{' '.join(rng.choices(WORDS_EN, k=60))}</description></item>"
                    for k in range(2)
                )
                body = feed.body.replace(b"<item>", new.encode() + b"<item>", 1)
                server.feeds[name] = ServedFeed(body)
            conn.send("bumped")
        await server.stop()

    asyncio.run(main())


async def poll_all(
    feeds: list[FeedConfig],
    state: IngestState,
    settings: IngestConfig,
    guesser: LanguageGuesser | None,
) -> dict[str, float]:
    """Poll every feed once through ingest's pool; wall and CPU seconds, articles published."""
    registry = CollectorRegistry()
    metrics = IngestMetrics.create(registry)
    stop = asyncio.Event()
    done: list[PollOutcome] = []

    async def publish(articles: Sequence[Article]) -> list[Position]:
        for article in articles:  # what the Kafka path costs us besides the send itself
            article.model_dump_json().encode()
        return [Position(0, i) for i in range(len(articles))]

    def polled(feed: Feed, outcome: PollOutcome) -> None:
        done.append(outcome)
        if len(done) >= len(feeds):
            stop.set()

    index = story_index(settings, state)
    wall, cpu = time.perf_counter(), time.process_time()
    async with client_session(
        allow_private_networks=settings.allow_private_networks,
        limit=settings.concurrency,
        limit_per_host=settings.per_host_concurrency,
    ) as session:
        poller = FeedPoller(
            state,
            session,
            publish,
            events=metrics.events(),
            limits=settings.limits(),
            stories=index,
            guesser=guesser,
        )
        await run_pool(
            feeds,
            poller,
            settings.pool(),
            stop,
            poll_lag=metrics.poll_lag.observe,
            on_polled=polled,
            start_now=True,
        )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    errors = sum(1 for o in done if o.error_streak)
    published = sum(o.published for o in done)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "articles": published,
        "errors": errors,
        "not_modified": registry.get_sample_value(
            "mediawatch_ingest_fetches_total", {"result": "not_modified"}
        )
        or 0.0,
    }


def naive(urls: list[str]) -> dict[str, float]:
    """Sequential feedparser.parse(url): feedparser's own fetch, no conditional GET, no dedup."""
    wall, cpu = time.perf_counter(), time.process_time()
    entries = 0
    for url in urls:
        entries += len(feedparser.parse(url).entries)
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "articles": entries,
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive-feeds", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--bare", action="store_true", help="without language guessing and story grouping"
    )
    args = parser.parse_args(argv)

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(args.feeds, child), daemon=True)
    server.start()
    port = parent.recv()
    urls = [f"http://127.0.0.1:{port}/f{i}.xml" for i in range(args.feeds)]
    feeds = [FeedConfig(url=u, interval=300) for u in urls]
    settings = IngestConfig(
        allow_private_networks=True,  # the bench server is on loopback
        concurrency=args.concurrency,
        per_host_concurrency=args.concurrency,  # every feed is on one host here
        per_host_delay=0.0001,
    )
    # production defaults: language guessing (these feeds declare none) and story grouping on
    guesser = LanguageGuesser(settings.languages) if settings.detect_language else None
    if args.bare:
        settings = settings.model_copy(update={"stories": False, "detect_language": False})
        guesser = None
    full_runs, conditional_runs, changed_runs, naive_runs = [], [], [], []
    try:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                state = IngestState(Path(tmp) / "ingest.sqlite")
                full_runs.append(asyncio.run(poll_all(feeds, state, settings, guesser)))
                conditional_runs.append(asyncio.run(poll_all(feeds, state, settings, guesser)))
                parent.send("bump")
                parent.recv()
                changed_runs.append(asyncio.run(poll_all(feeds, state, settings, guesser)))
                state.close()
            naive_runs.append(naive(urls[: args.naive_feeds]))
    finally:
        parent.send("stop")
        server.join(timeout=10)
    full, conditional, changed, base = map(
        median_of, (full_runs, conditional_runs, changed_runs, naive_runs)
    )
    n_naive = min(args.naive_feeds, args.feeds)

    def figures(m: dict[str, float], n: int) -> dict[str, Any]:
        return {
            "wall_s": round(m["wall_s"], 3),
            "cpu_s": round(m["cpu_s"], 3),
            "cpu_ms_per_feed": round(1000 * m["cpu_s"] / n, 3),
            "articles": int(m["articles"]),
            "articles_per_s": round(m["articles"] / m["wall_s"], 1) if m["articles"] else 0,
            "feeds_per_s": round(n / m["wall_s"], 1),
        }

    per_feed_full = full["cpu_s"] / args.feeds
    per_feed_conditional = conditional["cpu_s"] / args.feeds
    out = {
        "feeds": args.feeds,
        "runs": args.runs,
        "concurrency": args.concurrency,
        "language_guessing_and_story_grouping": not args.bare,
        "full_parse": {**figures(full, args.feeds), "errors": int(full["errors"])},
        "conditional": {
            **figures(conditional, args.feeds),
            "not_modified": int(conditional["not_modified"]),
        },
        "changed_two_new_items_each": figures(changed, args.feeds),
        "naive_sequential_feedparser": {
            **figures(base, n_naive),
            "feeds": n_naive,
            "extrapolated_wall_s_for_all": round(base["wall_s"] / n_naive * args.feeds, 1),
        },
        "projection_10000_feeds_every_300s": {
            "cores_if_every_poll_is_a_full_parse": round(per_feed_full * 10000 / 300, 3),
            "cores_if_every_poll_finds_two_new_items": round(
                changed["cpu_s"] / args.feeds * 10000 / 300, 3
            ),
            "cores_if_every_poll_is_a_304": round(per_feed_conditional * 10000 / 300, 3),
            "target_cores": 0.5,
        },
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
