"""Escalation on a replayed real stream: what fires, and how often it fires by chance.

The stream is a file of real feed items with publication times (JSON lines of articles,
`mediawatch replay`'s input; `--from-fwd-news` converts the headline archive of the public
repository fwd/news, which this project does not ship: fetch it and pass its headlines.json).
The replay runs the detector, story linking and the escalation test day by day and lists the
escalations. The false-alarm rate is measured on the same counts with each (event, country)
series' days shuffled 200 times (counts kept, real escalations broken): the share of tested
days that escalate then, against the test's nominal alpha. Prints JSON.

    .venv/bin/python bench/escalation_replay.py --from-fwd-news PATH/headlines.json
    .venv/bin/python bench/escalation_replay.py STREAM.jsonl
"""

import argparse
import json
import random
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect.matcher import build_matcher  # noqa: E402
from ingest.model import Article  # noqa: E402
from notify.desk import ALL_COUNTRIES  # noqa: E402
from notify.escalation import TrendBook  # noqa: E402
from services.config import load_watchlists  # noqa: E402
from services.replay import Replay, read_articles  # noqa: E402

SHUFFLES = 200


def fwd_news(path: Path) -> list[Article]:
    """fwd/news's headlines.json (Reddit news headlines with their post time) as articles."""
    items = json.loads(path.read_text(encoding="utf-8"))
    articles = []
    for item in items:
        at = datetime.fromtimestamp(int(item["timestamp"]), tz=UTC)
        articles.append(
            Article(
                id=f"fwd-{abs(hash(item['link'])) % 10**12}",
                url=item["link"],
                title=item["title"],
                text="",
                source=item.get("domain", "fwd/news"),
                lang="en",
                published_at=at,
                ingested_at=at,
            )
        )
    return sorted(articles, key=lambda a: a.published_at or at)


def country_series(book: TrendBook) -> set[tuple[str, str]]:
    """The (event, country) series that can escalate (not the all-countries one)."""
    return {(event, country) for event, country in book.keys() if country != ALL_COUNTRIES}


def false_alarms(book: TrendBook, days: list[Any], rng: random.Random) -> dict[str, Any]:
    tested = fired = 0
    for event, country in sorted(country_series(book)):
        counts = [book.count(event, country, d) for d in days]
        if sum(counts) < book.min_stories:
            continue
        for _ in range(SHUFFLES):
            rng.shuffle(counts)
            shuffled = TrendBook()
            for d, c in zip(days, counts, strict=True):
                for i in range(c):
                    shuffled.add(
                        event, {country}, f"s{d}{i}", datetime(d.year, d.month, d.day, tzinfo=UTC)
                    )
            for d in days[book.baseline_days :]:
                tested += 1
                fired += shuffled.escalation(event, country, d) is not None
    return {
        "shuffles_per_series": SHUFFLES,
        "series_days_tested": tested,
        "escalations_by_chance": fired,
        "false_alarm_rate_per_series_day": round(fired / max(1, tested), 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stream", nargs="?", type=Path)
    parser.add_argument("--from-fwd-news", type=Path, help="fwd/news headlines.json")
    args = parser.parse_args()
    if args.from_fwd_news:
        articles = fwd_news(args.from_fwd_news)
    elif args.stream:
        articles = read_articles(args.stream.read_text(encoding="utf-8").splitlines())
    else:
        parser.error("give a stream file or --from-fwd-news")
    matcher = build_matcher(load_watchlists([REPO / "watchlists" / "conflict.yaml"]))
    pipeline = Replay(matcher)
    lines = [line for a in articles for line in pipeline.feed(a)]
    escalations = [line for line in lines if line["kind"] == "escalation"]
    first = min(a.published_at for a in articles if a.published_at).date()
    last = max(a.published_at for a in articles if a.published_at).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    active = sorted({a.published_at.date() for a in articles if a.published_at})
    report = {
        "benchmark": "escalation_replay",
        "articles": len(articles),
        "days_covered": len(active),
        "first_day": str(first),
        "last_day": str(last),
        "alerts": sum(line["kind"] == "alert" for line in lines),
        "alerts_by_event": dict(
            Counter(line["event"] for line in lines if line["kind"] == "alert")
        ),
        "series": len(country_series(pipeline.desk.trends)),
        "escalations": escalations,
        "test": {
            "statistic": "Poisson upper tail of the day's distinct stories vs the mean of the "
            "previous 14 days (floor 0.5/day), at least 3 stories",
            "alpha": pipeline.desk.trends.alpha,
        },
        "false_alarms": false_alarms(
            pipeline.desk.trends, active if len(active) < len(days) else days, random.Random(5)
        ),
    }
    by_series: dict[str, int] = defaultdict(int)
    for e in escalations:
        by_series[f"{e['event']}/{e['country']}"] += 1
    report["escalations_per_series"] = dict(by_series)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
