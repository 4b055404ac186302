"""Precision, recall and F1 of the shipped watchlists per event type and language.

Runs the real matcher over the labelled passages in tests/data/events/dev.jsonl (real news,
source URLs inside) and prints one JSON object. The passages are split by a hash of their id:
`tuning` (70 %) is what the conflict pack was adjusted on, `held_out` (30 %) was not looked at
while writing rules, so it is the honest estimate.

    .venv/bin/python bench/quality.py [--watchlists watchlists/] [--errors]
"""

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect.matcher import build_matcher  # noqa: E402
from ingest.model import Article  # noqa: E402
from services.config import load_watchlists, watchlist_paths  # noqa: E402

DATA = REPO / "tests" / "data" / "events" / "dev.jsonl"
EVENTS = (
    "ceasefire_violation",
    "threat_to_cut_relations",
    "relations_cut",
    "shelling_or_strike",
    "ceasefire_call_or_agreement",
)


def split_of(item_id: str) -> str:
    return "held_out" if int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 10 < 3 else "tuning"


def scores(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def evaluate(watchlist_patterns: list[str], show_errors: bool) -> dict[str, object]:
    matcher = build_matcher(load_watchlists(watchlist_paths(watchlist_patterns, Path.cwd())))
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    errors = []
    items = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    for item in items:
        article = Article(
            id=item["id"],
            url=item["url"],
            title=item["title"],
            text=item["text"],
            source="dev",
            lang=item["lang"],
            ingested_at=datetime.now(UTC),
        )
        predicted = {a.event for a in matcher.match(article)}
        gold = set(item["labels"])
        for event in EVENTS:
            for split in (split_of(item["id"]), "all"):
                c = counts[(split, event, item["lang"])]
                if event in predicted and event in gold:
                    c[0] += 1
                elif event in predicted:
                    c[1] += 1
                elif event in gold:
                    c[2] += 1
            if (event in predicted) != (event in gold):
                errors.append(
                    {
                        "id": item["id"],
                        "event": event,
                        "kind": "fp" if event in predicted else "fn",
                        "title": item["title"],
                        "note": item.get("note", ""),
                    }
                )
    report: dict[str, object] = {"benchmark": "quality", "passages": len(items)}
    for split in ("held_out", "tuning", "all"):
        table = {}
        for event in EVENTS:
            table[event] = {lang: scores(*counts[(split, event, lang)]) for lang in ("ar", "en")}
            both = [
                sum(x)
                for x in zip(*(counts[(split, event, lang)] for lang in ("ar", "en")), strict=True)
            ]
            table[event]["both"] = scores(*both)
        report[split] = table
    if show_errors:
        report["errors"] = errors
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchlists", nargs="+", default=[str(REPO / "watchlists")])
    parser.add_argument("--errors", action="store_true", help="list every wrong decision")
    args = parser.parse_args()
    print(json.dumps(evaluate(args.watchlists, args.errors), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
