"""`mediawatch demo`: the whole pipeline on the bundled samples, offline, then exit.

Serves `samples/feeds/` on a loopback port, runs broker and services as `mediawatch run` does,
prints every alert as notify delivers it (with who did what to whom, and a report in another
language joined to its story), and exits 0 once each sample article has been through every
stage (read from the services' own metrics, so the demo checks what operators would see).
Then it replays `samples/escalation-demo.jsonl` (real passages on staged dates: a quiet
fortnight, then a day of strikes on Ukraine) and prints the escalation notice and where its
chart was written.
"""

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

from ingest.parse import parse_feed
from services.broker import EmbeddedBroker, free_port
from services.config import KafkaConfig
from services.feed_server import FeedServer
from services.kafka import KafkaLink, ensure_topics
from services.status import flatten
from services.supervisor import SERVICES, Supervisor, scrape

log = logging.getLogger("mediawatch.demo")

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "feeds"
ESCALATION_SAMPLE = REPO / "samples" / "escalation-demo.jsonl"
WATCHLISTS = REPO / "watchlists"
CHARTS = Path(tempfile.gettempdir()) / "mediawatch-demo"


def expected_articles(server: FeedServer) -> int:
    """How many distinct articles the samples hold (what ingest must publish)."""
    ids = set()
    for name, feed in server.feeds.items():
        ids |= {a.id for a in parse_feed(feed.body, feed_url=server.url(name), source=name)}
    return len(ids)


def demo_config(server: FeedServer, storage: Path, jsonl: bool) -> dict[str, object]:
    return {
        "kafka": {"bootstrap": "embedded"},
        "storage": {"path": str(storage)},
        "feeds": [
            {"url": server.url(name), "name": name.removesuffix(".xml"), "interval": "60s"}
            for name in sorted(server.feeds)
        ],
        "ingest": {"allow_private_networks": True},  # the sample feeds are served on loopback
        "watchlists": [str(WATCHLISTS)],
        "notify": {"console": True, "console_format": "jsonl" if jsonl else "text"},
        "metrics": {"host": "127.0.0.1"},
    }


async def run_demo(*, jsonl: bool, timeout_s: float = 90.0) -> int:
    if not SAMPLES.is_dir():
        print(f"demo: sample feeds not found at {SAMPLES}", file=sys.stderr)
        return 2
    started = time.monotonic()
    server = FeedServer.from_directory(SAMPLES)
    await server.start()
    try:
        expected = expected_articles(server)
        with tempfile.TemporaryDirectory(prefix="mediawatch-demo-") as tmp:
            config_path = Path(tmp) / "mediawatch.yaml"
            config_path.write_text(yaml.safe_dump(demo_config(server, Path(tmp), jsonl)))
            async with EmbeddedBroker() as broker:
                await ensure_topics(KafkaLink(broker.bootstrap, KafkaConfig()))
                ports = {s: free_port() for s in SERVICES}
                supervisor = Supervisor(config_path, broker.bootstrap, ports, log_level="warning")
                await supervisor.start()
                try:
                    ok = await _wait_until_done(supervisor, ports, expected, timeout_s)
                finally:
                    codes = await supervisor.stop()
        if not ok:
            return 1
        if any(codes.values()):
            print(f"demo: a service exited with an error: {codes}", file=sys.stderr)
            return 1
        print(
            f"demo: {expected} articles through ingest, detect and notify "
            f"in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )
        show_escalation(jsonl)
        return 0
    finally:
        await server.stop()


async def _wait_until_done(
    supervisor: Supervisor, ports: dict[str, int], expected: int, timeout_s: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    status = "starting"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            for name, process in supervisor.children.items():
                if process.returncode is not None:
                    print(f"demo: {name} exited with code {process.returncode}", file=sys.stderr)
                    return False
            try:
                ingest, detect, notify = [
                    flatten(await scrape(session, ports[s])) for s in SERVICES
                ]
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(0.3)
                continue
            published = ingest.get("mediawatch_ingest_articles_published_total", 0)
            matched = detect.get("mediawatch_detect_articles_processed_total", 0)
            alerts = detect.get("mediawatch_detect_alerts_total", 0)
            queued = notify.get("mediawatch_notify_alerts_processed_total", 0)
            pending = notify.get("mediawatch_notify_outbox_pending", 1)
            status = (
                f"published {published:.0f}/{expected}, matched {matched:.0f}, "
                f"alerts {alerts:.0f}, queued {queued:.0f}, not yet printed {pending:.0f}"
            )
            done = published >= expected and matched >= expected
            if done and queued >= alerts and pending == 0:  # the outbox is drained
                return True
            await asyncio.sleep(0.3)
    print(f"demo: timed out after {timeout_s:.0f}s ({status})", file=sys.stderr)
    return False


def show_escalation(jsonl: bool) -> None:
    """Replay the staged escalation sample; print its notices as the console would."""
    from detect.matcher import build_matcher
    from notify.render import render_escalation_text
    from services.config import load_watchlists, watchlist_paths
    from services.replay import Replay, read_articles

    articles = read_articles(ESCALATION_SAMPLE.read_text(encoding="utf-8").splitlines())
    print(
        f"demo: replaying {ESCALATION_SAMPLE.name} ({len(articles)} real passages on staged "
        "dates) for the escalation test",
        file=sys.stderr,
    )
    matcher = build_matcher(load_watchlists(watchlist_paths([str(WATCHLISTS)], REPO)))
    pipeline = Replay(matcher, CHARTS)
    charts = [line["chart"] for a in articles for line in pipeline.feed(a) if "chart" in line]
    for notice, chart in zip(pipeline.notices, charts, strict=True):
        if jsonl:
            print(notice.model_dump_json())
        else:
            print(render_escalation_text(notice) + f"\n  chart: {chart}\n")
