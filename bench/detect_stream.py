"""The shipped pack plus 10,000 analyst rules on a realistic stream, on one core.

Prints one JSON object. The stream is 3-5 KB articles, about 5 % conflict news (passages of
one story of tests/data/events stitched together) and 95 % other news (real general-news page
openings in ar, en, fr, ru, bench/data/general_news.jsonl, stitched the same way). Measured
side by side in one run, medians of `--runs`:
- `rules_only`: the 10,000 generated analyst rules (bench/detect_speed.py's shapes);
- `pack_and_rules`: the same plus the shipped conflict pack (frames + classifier), i.e. what
  `mediawatch match --watchlists watchlists/ RULES` does per article;
- the share of articles whose sentences reach the classifier, candidates per such article, and
  the classifier's cost per candidate sentence (encoder + logistic regression, batch per article);
- `cli`: `mediawatch match` end to end on the same stream as JSON lines (parsing and printing
  included), its start-up (watchlists compiled, model loaded) measured apart.

    taskset -c 0 .venv/bin/python bench/detect_stream.py [--articles 2000] [--runs 3]
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from detect_speed import make_rules, vocabulary_of  # noqa: E402

from detect.frames import EVENTS  # noqa: E402
from detect.matcher import QueryMatcher, shipped_classifier  # noqa: E402
from detect.verdict import candidates  # noqa: E402
from detect.watchlist import Watchlist  # noqa: E402
from ingest.model import Article  # noqa: E402
from services.config import load_watchlists  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONFLICT_SHARE = 0.05


def stitched(pieces: list[tuple[str, str]], rng: random.Random) -> tuple[str, str]:
    """A 3-5 KB article from (title, text) pieces: the first title, the texts in a row."""
    size = rng.randint(3000, 5000)
    title = next((t for t, _ in pieces if t), pieces[0][1][:80])
    body: list[str] = []
    while sum(len(b) for b in body) < size:
        body.append(rng.choice(pieces)[1])
    return title, "\n".join(body)[:size]


def stream(count: int, rng: random.Random) -> list[Article]:
    general = [json.loads(line) for line in (REPO / "bench/data/general_news.jsonl").open()]
    by_lang: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for g in general:
        by_lang[g["lang"]].append((g["title"], g["text"]))
    stories: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for split in ("train", "dev", "test"):
        for line in (REPO / f"tests/data/events/{split}.jsonl").open(encoding="utf-8"):
            row = json.loads(line)
            if row["labels"]:
                stories[row["story_group"]].append(row)
    groups = sorted(stories)
    articles = []
    for i in range(count):
        if rng.random() < CONFLICT_SHARE:
            rows = stories[rng.choice(groups)]
            lang = rows[0]["lang"]
            same_language = [(r["title"], r["text"]) for r in rows if r["lang"] == lang]
            title, text = stitched(same_language, rng)
        else:
            lang = rng.choice(sorted(by_lang))
            title, text = stitched(by_lang[lang], rng)
        url = f"https://stream.example/{i}"
        articles.append(
            Article(
                id=f"s{i}",
                url=url,
                title=title,
                text=text,
                source="bench",
                lang=lang,
                ingested_at=NOW,
            )
        )
    return articles


def throughput(matcher: QueryMatcher, articles: list[Article], runs: int) -> dict[str, float]:
    matcher.match(articles[0])  # warm the caches as a running detector would be
    timings, alerts = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        alerts = sum(len(matcher.match(a, now=NOW)) for a in articles)
        timings.append(time.perf_counter() - started)
    per_article = statistics.median(timings) / len(articles)
    return {
        "articles_per_s": round(1 / per_article),
        "ms_per_article": round(per_article * 1000, 3),
        "alerts_per_article": round(alerts / len(articles), 3),
    }


def classifier_cost(matcher: QueryMatcher, articles: list[Article]) -> dict[str, float]:
    """Who reaches the classifier, and what one candidate sentence costs it."""
    classifier = matcher.classifier
    assert classifier is not None and classifier.encoder is not None
    reached, sentences, seconds = 0, 0, 0.0
    for article in articles:
        reading = matcher.frame_reading(article)
        texts = {
            reading.window(s, h)
            for e in EVENTS
            for s, h in zip(*candidates(e, reading), strict=True)
        }
        if not texts:
            continue
        reached += 1
        sentences += len(texts)
        started = time.perf_counter()
        classifier.encoder.encode(sorted(texts))
        seconds += time.perf_counter() - started
    return {
        "share_of_articles_reaching_classifier": round(reached / len(articles), 3),
        "candidate_sentences_per_reached_article": round(sentences / max(1, reached), 2),
        "encoder_ms_per_candidate": round(seconds / max(1, sentences) * 1000, 3),
    }


def cli(articles: list[Article], rules_path: Path) -> dict[str, float]:
    """`mediawatch match` on the stream as JSON lines, and on an empty input (start-up)."""
    with tempfile.TemporaryDirectory() as tmp:
        stream_file = Path(tmp) / "stream.jsonl"
        stream_file.write_text(
            "".join(
                json.dumps({"id": a.id, "title": a.title, "text": a.text, "lang": a.lang}) + "\n"
                for a in articles
            ),
            encoding="utf-8",
        )
        empty = Path(tmp) / "empty.jsonl"
        empty.write_text("", encoding="utf-8")
        command = [
            sys.executable, "-m", "services.cli", "match",
            "--watchlists", str(REPO / "watchlists"), str(rules_path), "--",
        ]  # fmt: skip

        def run(path: Path) -> float:
            started = time.perf_counter()
            subprocess.run([*command, str(path)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
            return time.perf_counter() - started

        startup = run(empty)
        total = run(stream_file)
    return {
        "startup_s": round(startup, 2),
        "total_s": round(total, 2),
        "articles_per_s_after_startup": round(len(articles) / max(1e-9, total - startup)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI run")
    args = parser.parse_args()
    rng = random.Random(7)
    articles = stream(args.articles, rng)
    words = vocabulary_of(articles)
    rules = make_rules(args.rules, words, 0.05 / (args.rules / 1000), rng)
    analyst = Watchlist.model_validate({"id": "analyst", "title": "analyst", "rules": rules})
    pack = load_watchlists([REPO / "watchlists" / "conflict.yaml"])
    report: dict[str, Any] = {
        "benchmark": "detect_stream",
        "articles": len(articles),
        "conflict_share": CONFLICT_SHARE,
        "analyst_rules": args.rules,
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }
    report["rules_only"] = throughput(QueryMatcher([analyst]), articles, args.runs)
    combined = QueryMatcher([*pack, analyst], classifier=shipped_classifier())
    report["pack_and_rules"] = throughput(combined, articles, args.runs)
    report["pack_cost_ratio"] = round(
        report["pack_and_rules"]["ms_per_article"] / report["rules_only"]["ms_per_article"], 2
    )
    report["classifier"] = classifier_cost(combined, articles)
    if not args.no_cli:
        with tempfile.TemporaryDirectory() as tmp:
            rules_path = Path(tmp) / "analyst.yaml"
            dumped = json.dumps(analyst.model_dump(exclude_none=True))
            rules_path.write_text(dumped, encoding="utf-8")
            report["cli"] = cli(articles, rules_path)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
