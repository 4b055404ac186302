"""Story grouping quality: precision and recall of `same story?` over labelled article pairs.

    .venv/bin/python bench/story_pairs.py [--threshold 0.5]

The labelled set is built from the 39 real items of samples/feeds (see samples/SOURCES.md):
- positives, real: pairs of items that report one event (listed in `REAL_SAME_STORY`), in one
  language or across Arabic and English;
- positives, syndicated: each real item paired with a copy made the way outlets re-publish wire
  copy (headline decoration, a dateline or source tag, the lead cut to its first sentences, and
  for Arabic the diacritics, tatweel and spelling variants copy editors add);
- negatives: every other pair of distinct real items (741 pairs less the real positives),
  including near misses: two Kharkiv shellings, two UN calls for a Gaza ceasefire, two
  "trade accusations of ceasefire violations" headlines.
Prints JSON: counts, and precision/recall overall and per kind.
"""

import argparse
import itertools
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from ingest.model import Article
from ingest.parse import parse_feed
from ingest.stories import DEFAULT_THRESHOLD, StoryIndex

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "feeds"
#: (feed, item number) pairs that report the same event. Cross-language ones are expected misses.
REAL_SAME_STORY = [
    (("mixed-atom", 1), ("world-en", 1)),  # first Nagorno-Karabakh truce violation, 12 Dec 2020
    (("sabq-ar", 5), ("mixed-atom", 7)),  # Algeria cuts ties with Morocco (ar / en)
    (("sabq-ar", 13), ("world-en", 10)),  # Iran and Saudi Arabia restore relations (ar / en)
    (("sabq-ar", 2), ("mixed-atom", 5)),  # Russia threatens to cut ties over terror listing
]
NOW = datetime(2026, 11, 24, tzinfo=UTC)
_AR_VARIANTS = str.maketrans({"ي": "ى", "ه": "ة"})


def load_items() -> dict[tuple[str, int], Article]:
    items = {}
    now = datetime(2026, 11, 24, tzinfo=UTC)
    for path in sorted(SAMPLES.glob("*.xml")):
        for i, a in enumerate(parse_feed(path.read_bytes(), feed_url="f", source="s", now=now)):
            items[(path.stem, i + 1)] = a
    return items


def syndicated_copy(article: Article, n: int) -> Article:
    """A copy as another outlet would run it (deterministic per item number `n`)."""
    sentences = article.text.replace("\n", " ").split(". ")
    lead = ". ".join(sentences[: 1 + n % 2])
    if article.lang == "ar":
        title = ("عاجل | " if n % 2 else "") + article.title.rstrip(".")
        title = title.replace(" ", " ــ ", 1) if n % 3 == 0 else title
        title += " (فيديو)" if n % 4 == 0 else ""
        lead = "(وكالات) - " + lead.replace("الا", "الأ").replace(" ال", " الـ", 1)
        if n % 5 == 0:
            lead = lead.translate(_AR_VARIANTS)
    else:
        title = ("BREAKING: " if n % 2 else "") + article.title
        title = title.upper() if n % 3 == 0 else title
        title += " - Reuters" if n % 4 == 0 else " | World News"
        lead = "LONDON (Reuters) - " + lead
    return article.model_copy(update={"id": article.id + "-copy", "title": title, "text": lead})


def pairs() -> list[tuple[str, Article, Article, bool]]:
    items = load_items()
    real = {frozenset(p) for p in REAL_SAME_STORY}
    out: list[tuple[str, Article, Article, bool]] = []
    for (ka, a), (kb, b) in itertools.combinations(items.items(), 2):
        same = frozenset((ka, kb)) in real
        kind = ("real-cross-language" if a.lang != b.lang else "real") if same else "different"
        out.append((kind, a, b, same))
    for n, article in enumerate(items.values()):
        out.append(("syndicated", article, syndicated_copy(article, n), True))
    return out


def evaluate(threshold: float) -> dict[str, object]:
    labelled = pairs()
    decided = []  # (kind, grouped by the real path: LSH candidates then the threshold, same)
    similarities = []
    for kind, a, b, same in labelled:
        index = StoryIndex(threshold=threshold)
        index.assign(a, NOW)
        grouped = index.assign(b, NOW)[0] == a.id
        decided.append((kind, grouped, same))
        similarities.append((index.similarity(a, b), same))

    def rates(rows: list[tuple[str, bool, bool]]) -> dict[str, object]:
        tp = sum(1 for _, grouped, same in rows if same and grouped)
        fp = sum(1 for _, grouped, same in rows if not same and grouped)
        fn = sum(1 for _, grouped, same in rows if same and not grouped)
        return {
            "pairs": len(rows),
            "positives": tp + fn,
            "true_positives": tp,
            "false_positives": fp,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        }

    by_kind = {
        kind: rates([r for r in decided if r[0] in (kind, "different")])
        for kind in ("syndicated", "real", "real-cross-language")
    }
    return {
        "threshold": threshold,
        "items": len(load_items()),
        "overall": rates(decided),
        "overall_same_language": rates([r for r in decided if r[0] != "real-cross-language"]),
        "by_kind_against_all_negatives": by_kind,
        "highest_negative_similarity": round(max(s for s, same in similarities if not same), 3),
        "lowest_syndicated_similarity": round(
            min(
                s
                for (s, _), (kind, _, _) in zip(similarities, decided, strict=True)
                if kind == "syndicated"
            ),
            3,
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    args = parser.parse_args(argv)
    json.dump(evaluate(args.threshold), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
