"""Detector throughput at 1k / 10k / 100k rules, against a naive one-regex-per-rule baseline.

Prints one JSON object. Articles are 3-5 KB of real Arabic and English news text (the sample
feeds and the fixture, stitched together); rules are generated from the same vocabulary in the
shapes analysts write (NEAR, OR groups, phrases, wildcards, NOT, field scopes), anchored on
words of every frequency so that some fire and most do not, as in a real rule base.

    .venv/bin/python bench/detect_speed.py [--rules 1000,10000,100000] [--runs 5]
"""

import argparse
import gc
import json
import random
import re
import resource
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect.matcher import build_matcher  # noqa: E402
from detect.watchlist import Watchlist  # noqa: E402
from ingest.model import Article  # noqa: E402
from ingest.parse import parse_feed  # noqa: E402
from text.fold import WORD_RE, fold  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def source_texts() -> list[str]:
    texts = [(REPO / "tests/data/sabq-armenia-azerbaijan-2020.txt").read_text(encoding="utf-8")]
    for path in sorted((REPO / "samples/feeds").glob("*.xml")):
        texts += [
            f"{a.title}\n{a.text}" for a in parse_feed(path.read_bytes(), feed_url="f", source="s")
        ]
    dev = REPO / "tests/data/events/dev.jsonl"
    if dev.exists():
        texts += [f"{d['title']}\n{d['text']}" for d in map(json.loads, dev.open())]
    return texts


def make_articles(count: int, rng: random.Random) -> list[Article]:
    texts = source_texts()
    articles = []
    for i in range(count):
        size = rng.randint(3000, 5000)
        parts: list[str] = []
        while sum(len(p) for p in parts) < size:
            parts.append(rng.choice(texts))
        body = "\n".join(parts)[:size]
        articles.append(
            Article(
                id=f"a{i}",
                url=f"https://x/{i}",
                title=parts[0].split("\n")[0],
                text=body,
                source="bench",
                lang=rng.choice(["ar", "en"]),
                ingested_at=NOW,
            )
        )
    return articles


def vocabulary_of(articles: list[Article]) -> list[str]:
    """Words of five letters or more that occur in the articles."""
    frequency = Counter(w for a in articles for w in set(WORD_RE.findall(fold(a.text))))
    return sorted(w for w in frequency if len(w) >= 5 and not w.isdigit())  # stable across runs


def make_rules(
    count: int, words: list[str], real_share: float, rng: random.Random
) -> list[dict[str, str]]:
    """Rules in the shapes analysts write. Their first words are anchors: a `real_share` of them
    occur in the articles, the rest never do, like the names most monitoring rules watch for."""
    letters = "bcdfghjklmnpqrstvwz"

    def anchor() -> str:
        if rng.random() < real_share:
            return rng.choice(words)
        return "".join(rng.choice(letters) for _ in range(7))

    def word() -> str:
        return rng.choice(words)

    shapes = [
        lambda: f"{anchor()} NEAR/5 {word()}",
        lambda: f"({anchor()} OR {anchor()} OR {anchor()}) {word()}",
        lambda: f'"{anchor()} {word()}"',
        lambda: f"{anchor()[:5]}* NEAR/3 ({word()} OR {word()})",
        lambda: f"{anchor()} NOT {word()}",
        lambda: f"title:({anchor()} OR {anchor()}) {word()}",
        lambda: f"({anchor()} OR {anchor()}) ONEAR/8 ({word()} OR {word()}) NOT {word()}",
        lambda: f"{anchor()} AND {word()} AND {word()}",
    ]
    return [{"id": f"r{i}", "query": rng.choice(shapes)()} for i in range(count)]


def regex_baseline(rules: list[dict[str, str]]) -> list[re.Pattern[str]]:
    """One compiled regex per rule: its words as alternatives (no Boolean logic at all)."""
    patterns = []
    for rule in rules:
        words = [
            w
            for w in re.findall(r"\w+", rule["query"])
            if w not in {"NEAR", "ONEAR", "OR", "NOT", "title"}
        ]
        patterns.append(re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\w*"))
    return patterns


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(
    count: int,
    articles: list[Article],
    words: list[str],
    real_share: float,
    runs: int,
    baseline_articles: int,
    rng: random.Random,
) -> dict[str, object]:
    rules = make_rules(count, words, real_share, rng)
    gc.collect()
    rss_before = rss_mib()
    started = time.perf_counter()
    watchlist = Watchlist.model_validate({"id": "bench", "title": "bench", "rules": rules})
    matcher = build_matcher([watchlist])
    load_s = time.perf_counter() - started
    rss_after = rss_mib()
    matcher.match(articles[0])  # warm the word cache as a running detector would be
    timings, alerts = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        alerts = sum(len(matcher.match(a, now=NOW)) for a in articles)
        timings.append(time.perf_counter() - started)
    ours = statistics.median(timings) / len(articles)
    patterns = regex_baseline(rules)
    sample = articles[:baseline_articles]
    base_timings = []
    for _ in range(max(1, runs // 2)):
        started = time.perf_counter()
        for article in sample:
            folded = fold(article.text)
            for pattern in patterns:
                pattern.search(folded)
        base_timings.append(time.perf_counter() - started)
    baseline = statistics.median(base_timings) / len(sample)
    return {
        "rules": count,
        "load_s": round(load_s, 2),
        "max_rss_growth_mib": round(rss_after - rss_before, 1),
        "articles": len(articles),
        "alerts_per_article": round(alerts / len(articles), 2),
        "ours_ms_per_article": round(ours * 1000, 3),
        "ours_articles_per_s": round(1 / ours),
        "baseline_ms_per_article": round(baseline * 1000, 3),
        "baseline_articles_per_s": round(1 / baseline, 1),
        "speedup": round(baseline / ours, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default="1000,10000,100000")
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--real-anchor-share",
        type=float,
        default=0.05,
        help="share of rule anchors that occur in articles (sets the alert rate)",
    )
    parser.add_argument(
        "--constant-alert-rate",
        action="store_true",
        help="divide the share by rules/1000, so each size fires about as often "
        "as 1,000 rules do: isolates the cost of the index from that of alerts",
    )
    args = parser.parse_args()
    rng = random.Random(42)
    articles = make_articles(args.articles, rng)
    words = vocabulary_of(articles)
    results = []
    for count in (int(c) for c in args.rules.split(",")):
        share = args.real_anchor_share / (count / 1000 if args.constant_alert_rate else 1)
        baseline_articles = max(2, min(50, 200_000 // count))
        results.append(bench(count, articles, words, share, args.runs, baseline_articles, rng))
        print(json.dumps(results[-1]), file=sys.stderr)
    per_article = {r["rules"]: r["ours_ms_per_article"] for r in results}
    ratios = {
        f"{b}/{a}": round(per_article[b] / per_article[a], 2)  # type: ignore[operator]
        for a, b in zip(list(per_article), list(per_article)[1:], strict=False)
    }
    print(
        json.dumps(
            {
                "benchmark": "detect_speed",
                "python": sys.version.split()[0],
                "article_kb": "3-5",
                "results": results,
                "time_ratio_10x_rules": ratios,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
