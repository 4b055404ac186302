"""How well alerts name who did what to whom: actor/target accuracy on labelled sentences.

Reads tests/data/actors/sentences.jsonl (real evidence sentences of the shipped pack's alerts
on the event corpus, Arabic and English, each with its labelled `actor`, `target` and `source`
parties: ISO country codes or gazetteer ids) and runs `detect.actors` on every sentence.
Prints JSON: per language and role, precision, recall and F1 of (sentence, party) pairs, the
share of sentences whose actors and targets are both exactly right, and entity detection
whatever the role. The sentences are split by a hash of their id: `dev` (30 %), which the
role rules were adjusted on, and `test` (70 %), which they were not.

    .venv/bin/python bench/actor_accuracy.py [--split test|dev|all] [--errors]
"""

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect.actors import shipped_gazetteer  # noqa: E402

DATA = REPO / "tests" / "data" / "actors" / "sentences.jsonl"
ROLES = ("actor", "target", "source")


def split_of(sid: str) -> str:
    return "dev" if int(hashlib.sha256(sid.encode()).hexdigest(), 16) % 10 < 3 else "test"


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": round(p, 3), "r": round(r, 3), "f1": round(f, 3), "tp": tp, "fp": fp, "fn": fn}


def evaluate(split: str, show_errors: bool) -> dict[str, Any]:
    gazetteer = shipped_gazetteer()
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    rows = [r for r in rows if split == "all" or split_of(r["sid"]) == split]
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    exact: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    errors = []
    for row in rows:
        parties = gazetteer.read(row["sentence"], row["lang"], row["event"])
        predicted = {role: {p.entity.id for p in parties if p.role == role} for role in ROLES}
        predicted["any"] = {p.entity.id for p in parties}
        gold = {role: set(row[role]) for role in ROLES}
        gold["any"] = set().union(*gold.values())
        for lang in (row["lang"], "all"):
            for role in (*ROLES, "any"):
                c = counts[(lang, role)]
                c[0] += len(predicted[role] & gold[role])
                c[1] += len(predicted[role] - gold[role])
                c[2] += len(gold[role] - predicted[role])
            right = predicted["actor"] == gold["actor"] and predicted["target"] == gold["target"]
            exact[lang][0] += right
            exact[lang][1] += 1
        if show_errors and (
            predicted["actor"] != gold["actor"] or predicted["target"] != gold["target"]
        ):
            errors.append(
                {"sid": row["sid"], "event": row["event"], "sentence": row["sentence"],
                 "gold": {r: sorted(gold[r]) for r in ROLES},
                 "predicted": {r: sorted(predicted[r]) for r in ROLES}}
            )  # fmt: skip
    report: dict[str, Any] = {"benchmark": "actor_accuracy", "split": split, "sentences": len(rows)}
    for lang in ("ar", "en", "all"):
        report[lang] = {
            "sentences": exact[lang][1],
            "actors_and_targets_exactly_right": round(exact[lang][0] / max(1, exact[lang][1]), 3),
            **{role: prf(*counts[(lang, role)]) for role in (*ROLES, "any")},
        }
    if show_errors:
        report["errors"] = errors
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("test", "dev", "all"))
    parser.add_argument("--errors", action="store_true")
    args = parser.parse_args()
    print(json.dumps(evaluate(args.split, args.errors), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
