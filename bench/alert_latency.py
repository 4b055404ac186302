"""Alert latency of `mediawatch run`: from a feed item appearing to its alert on the console.

Serves one local feed to which an item is added every `--every` seconds (the sample articles
that raise alerts, each under its own link), runs the real `mediawatch run` (embedded broker,
the three services, the shipped watchlists; the feed polled every `--poll` seconds) with alerts
printed as JSON lines, and times each alert as it is printed. Prints one JSON object:
- `from_ingest_s`: the article's `ingested_at` (ingest read it) to the alert printed: what
  detect, the classifier, notify and two Kafka hops cost;
- `from_feed_s`: the item added to the feed to the alert printed, polling included (at most
  `--poll` more);
each as median, 95th percentile and max over the items, after a warm-up item.

    .venv/bin/python bench/alert_latency.py [--items 40] [--every 1.0] [--poll 0.5]
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect.matcher import build_matcher  # noqa: E402
from ingest.parse import parse_feed  # noqa: E402
from services.config import load_watchlists, watchlist_paths  # noqa: E402
from services.feed_server import FeedServer, ServedFeed  # noqa: E402

ITEM = (
    "<item><title>{title}</title><link>https://latency.example/{n}</link>"
    "<guid>https://latency.example/{n}</guid><description>{text}</description></item>"
)


def alerting_samples() -> list[tuple[str, str, str]]:
    """(lang, title, text) of the sample articles the shipped pack alerts on."""
    matcher = build_matcher(load_watchlists(watchlist_paths(["watchlists"], REPO)))
    found = []
    for path in sorted((REPO / "samples" / "feeds").glob("*.xml")):
        for article in parse_feed(path.read_bytes(), feed_url=f"file:{path.name}", source="s"):
            if article.lang in (None, "en") and matcher.match(article):
                found.append(("en", article.title, article.text))
    return found


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max": round(ordered[-1], 3),
    }


async def measure(items: int, every: float, poll: float) -> dict[str, Any]:
    samples = alerting_samples()
    server = FeedServer()
    added: dict[str, float] = {}
    body: list[str] = []

    def add(n: int) -> None:
        _, title, text = samples[n % len(samples)]
        body.append(ITEM.format(title=escape(title), text=escape(text), n=n))
        added[f"https://latency.example/{n}"] = time.time()
        server.feeds["live.xml"] = ServedFeed(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Live</title>'
            f"{''.join(reversed(body[-50:]))}</channel></rss>".encode()
        )

    add(0)  # the warm-up item: start-up is over once its alert is printed
    await server.start()
    with tempfile.TemporaryDirectory(prefix="mediawatch-latency-") as tmp:
        config = {
            "kafka": {"bootstrap": "embedded"},
            "storage": {"path": tmp},
            "feeds": [{"url": server.url("live.xml"), "name": "Live", "lang": "en",
                       "interval": f"{poll}s"}],
            "ingest": {"allow_private_networks": True, "stories": False,
                       "per_host_delay": "10ms"},
            "watchlists": [str(REPO / "watchlists")],
            "notify": {"console": True, "console_format": "jsonl", "link_stories": False},
            "metrics": {"host": "127.0.0.1", "port": 0},
        }  # fmt: skip
        path = Path(tmp) / "mediawatch.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        run = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "--log-format", "json", "run",
            "--config", str(path), "--status-interval", "3600",
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert run.stdout is not None
        printed: dict[str, tuple[float, datetime]] = {}
        everything = asyncio.Event()

        async def read() -> None:
            assert run.stdout is not None
            async for line in run.stdout:
                at = time.time()
                alert = json.loads(line)
                url = alert["article"]["url"]
                if url not in printed:  # an article's first alert
                    printed[url] = (at, datetime.fromisoformat(alert["ingested_at"]))
                if len(printed) > items:
                    everything.set()

        reader = asyncio.create_task(read())
        started = time.time()
        while "https://latency.example/0" not in printed:
            await asyncio.sleep(0.05)
            if time.time() - started > 120 or run.returncode is not None:
                raise SystemExit(f"no alert within {time.time() - started:.0f} s of start")
        startup = printed["https://latency.example/0"][0] - started
        for n in range(1, items + 1):
            add(n)
            await asyncio.sleep(every)
        with contextlib.suppress(TimeoutError):  # what has not come in 30 s counts as lost
            await asyncio.wait_for(everything.wait(), 30)
        run.send_signal(signal.SIGINT)
        await run.wait()
        reader.cancel()
    await server.stop()
    measured = [u for u in printed if u != "https://latency.example/0"]
    return {
        "benchmark": "alert_latency",
        "items": items,
        "every_s": every,
        "poll_s": poll,
        "startup_to_first_alert_s": round(startup, 2),
        "alerted": len(measured),
        "from_ingest_s": quantiles([printed[u][0] - printed[u][1].timestamp() for u in measured]),
        "from_feed_s": quantiles([printed[u][0] - added[u] for u in measured]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between new items")
    parser.add_argument("--poll", type=float, default=0.5, help="the feed's polling interval")
    args = parser.parse_args()
    report = asyncio.run(measure(args.items, args.every, args.poll))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
