"""Precision, recall and F1 of the conflict pack per event and language, side by side.

Runs the real matcher (`mediawatch match`'s path) over a split of the labelled corpus
(tests/data/events/, real news passages with their URLs) and compares, on the same passages:
- `baseline`: a naive keyword list (bench/baseline_keywords.yaml), what Google Alerts users write;
- `previous`: the Boolean pack that shipped before frames (bench/previous_pack.yaml; ar, en);
- `frames`: the shipped pack's event frames deciding alone (no classifier);
- `classifier`: the classifier on the frames' candidate sentences, sentence embedding only;
- `hybrid`: the shipped pack: classifier over embedding and frame features.
The default split is `test`, frozen before any detector was trained or tuned: report that
figure. `--split dev` is for development. Prints a table on stderr and JSON on stdout.

    .venv/bin/python bench/quality.py [--split test|dev|train] [--errors SYSTEM]
"""

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect.classifier import MODEL_PATH, EventClassifier  # noqa: E402
from detect.frames import EVENTS  # noqa: E402
from detect.matcher import QueryMatcher  # noqa: E402
from ingest.model import Article  # noqa: E402
from services.config import load_watchlists  # noqa: E402

DATA = REPO / "tests" / "data" / "events"
LANGS = ("ar", "en", "fr", "ru")
SYSTEMS = ("baseline", "previous", "frames", "classifier", "hybrid")
GOALS = {
    "hybrid_macro_f1": 0.85,
    "event_f1": 0.75,
    "language_macro_f1": 0.75,
    "over_baseline": 0.20,
}


def matchers(model: Path = MODEL_PATH) -> dict[str, QueryMatcher]:
    pack = load_watchlists([REPO / "watchlists" / "conflict.yaml"])
    out = {
        "baseline": QueryMatcher(load_watchlists([REPO / "bench" / "baseline_keywords.yaml"])),
        "previous": QueryMatcher(load_watchlists([REPO / "bench" / "previous_pack.yaml"])),
        "frames": QueryMatcher(pack, classifier=None),
    }
    hybrid = EventClassifier.load(model, "hybrid")
    encoder_only = EventClassifier.load(model, "encoder", encoder=hybrid.encoder)
    out["classifier"] = QueryMatcher(pack, classifier=encoder_only)
    out["hybrid"] = QueryMatcher(pack, classifier=hybrid)
    return out


def scores(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "p": round(precision, 3),
        "r": round(recall, 3),
        "f1": round(f1, 3),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def evaluate(
    split: str, errors_of: str | None, data: Path = DATA, model: Path = MODEL_PATH
) -> dict[str, Any]:
    path = data / f"{split}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    systems = matchers(model)
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    errors = []
    for row in rows:
        article = Article(
            id=row["id"], url=row["url"], title=row["title"], text=row["text"],
            source="corpus", lang=row["lang"], ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
        )  # fmt: skip
        gold = set(row["labels"])
        for name, matcher in systems.items():
            alerts = matcher.match(article)
            predicted = {a.event for a in alerts}
            for event in EVENTS:
                for lang in (row["lang"], "all"):
                    c = counts[(name, event, lang)]
                    c[
                        0
                        if event in predicted and event in gold
                        else 1
                        if event in predicted
                        else 2
                    ] += event in predicted or event in gold
                if name == errors_of and (event in predicted) != (event in gold):
                    evidence = next(
                        (a.evidence.text for a in alerts if a.event == event and a.evidence), ""
                    )
                    kind = "fp" if event in predicted else "fn"
                    errors.append(
                        {"id": row["id"], "event": event, "kind": kind, "title": row["title"],
                         "text": row["text"][:300], "evidence": evidence}
                    )  # fmt: skip
    table: dict[str, Any] = {}
    for name in systems:
        per: dict[str, Any] = {}
        for event in EVENTS:
            per[event] = {lang: scores(*counts[(name, event, lang)]) for lang in (*LANGS, "all")}
        macro = {
            lang: round(sum(per[e][lang]["f1"] for e in EVENTS) / len(EVENTS), 3)
            for lang in (*LANGS, "all")
        }
        table[name] = {"events": per, "macro_f1": macro}
    report: dict[str, Any] = {
        "benchmark": "quality",
        "split": split,
        "passages": len(rows),
        "languages": {lang: sum(r["lang"] == lang for r in rows) for lang in LANGS},
        "systems": table,
        "goals": goals(table),
    }
    if errors_of:
        report["errors"] = errors
    return report


def goals(table: dict[str, Any]) -> dict[str, Any]:
    hybrid = table["hybrid"]
    return {
        "hybrid_macro_f1": {"value": hybrid["macro_f1"]["all"], "goal": GOALS["hybrid_macro_f1"]},
        "every_event_f1": {
            "value": {e: hybrid["events"][e]["all"]["f1"] for e in EVENTS},
            "goal": GOALS["event_f1"],
        },
        "every_language_macro_f1": {
            "value": {lang: hybrid["macro_f1"][lang] for lang in LANGS},
            "goal": GOALS["language_macro_f1"],
        },
        "over_baseline": {
            "value": round(hybrid["macro_f1"]["all"] - table["baseline"]["macro_f1"]["all"], 3),
            "goal": GOALS["over_baseline"],
        },
    }


def render(report: dict[str, Any], out: Callable[[str], None]) -> None:
    systems = report["systems"]
    out(f"split {report['split']}: {report['passages']} passages {report['languages']}")
    out("F1 (P/R) per event, all languages:")
    out("| event | " + " | ".join(systems) + " |")
    out("|---|" + "---|" * len(systems))
    for event in EVENTS:
        cells = [
            f"{s['events'][event]['all']['f1']:.2f} ({s['events'][event]['all']['p']:.2f}/"
            f"{s['events'][event]['all']['r']:.2f})"
            for s in systems.values()
        ]
        out(f"| {event} | " + " | ".join(cells) + " |")
    out(
        "| macro-F1 | " + " | ".join(f"{s['macro_f1']['all']:.2f}" for s in systems.values()) + " |"
    )
    out("Macro-F1 per language:")
    out("| language | " + " | ".join(systems) + " |")
    out("|---|" + "---|" * len(systems))
    for lang in LANGS:
        out(
            f"| {lang} | "
            + " | ".join(f"{s['macro_f1'][lang]:.2f}" for s in systems.values())
            + " |"
        )
    out("Hybrid F1 per event and language:")
    out("| event | " + " | ".join(LANGS) + " |")
    out("|---|" + "---|" * len(LANGS))
    for event in EVENTS:
        e = systems["hybrid"]["events"][event]
        out(f"| {event} | " + " | ".join(f"{e[lang]['f1']:.2f}" for lang in LANGS) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("test", "dev", "train"))
    parser.add_argument("--errors", choices=SYSTEMS, help="list every wrong decision of SYSTEM")
    parser.add_argument("--data", type=Path, default=DATA, help="directory of the splits")
    parser.add_argument("--model", type=Path, default=MODEL_PATH, help="classifier file")
    args = parser.parse_args()
    report = evaluate(args.split, args.errors, args.data, args.model)
    render(report, lambda line: print(line, file=sys.stderr))
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
