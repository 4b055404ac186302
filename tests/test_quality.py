"""The labelled corpus is what its README says, the test split stays frozen, and the shipped
pack keeps its quality on the dev split.

Floors sit a little below what the pack measures today on dev, so a matcher, lexicon or
model change that loses quality fails here. The test split is only read by `make quality`
(its figures are reported, never tuned on); here it is only checked to be unchanged.
"""

import hashlib
import json
import subprocess
import sys

import pytest

from detect.frames import EVENTS
from tests.helpers import REPO

DATA = REPO / "tests" / "data" / "events"
TEST_SHA256 = "b304728cf240e11c66464cdf8a46d71d0f668510b863c62d6d9d0659a4a1abcb"
DEV_FLOORS = {"hybrid_macro_f1": 0.82, "event_f1": 0.75, "over_baseline": 0.25}


def rows(split: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / f"{split}.jsonl").open(encoding="utf-8")]


def test_the_test_split_is_frozen() -> None:
    digest = hashlib.sha256((DATA / "test.jsonl").read_bytes()).hexdigest()
    assert digest == TEST_SHA256, "test.jsonl changed: the frozen split must not be edited"
    assert TEST_SHA256 in (DATA / "README.md").read_text(encoding="utf-8")


def test_the_corpus_is_as_large_and_varied_as_promised() -> None:
    everything = [r for split in ("train", "dev", "test") for r in rows(split)]
    assert len(everything) >= 1500
    for event in EVENTS:
        assert sum(event in r["labels"] for r in everything) >= 150, event  # type: ignore[operator]
    assert sum(bool(r["hard_negative"]) for r in everything) >= 0.25 * len(everything)
    share = {
        lang: sum(r["lang"] == lang for r in everything) / len(everything)
        for lang in "ar en fr ru".split()
    }
    assert (
        share["ar"] >= 0.35 and share["en"] >= 0.35 and share["fr"] >= 0.08 and share["ru"] >= 0.08
    )
    assert all(str(r["url"]).startswith("http") and r["text"] for r in everything)
    assert len({r["id"] for r in everything}) == len(everything)


def test_no_story_is_in_two_splits() -> None:
    groups = {split: {r["story_group"] for r in rows(split)} for split in ("train", "dev", "test")}
    assert not groups["train"] & groups["test"]
    assert not groups["dev"] & groups["test"]
    assert not groups["train"] & groups["dev"]


def test_training_never_reads_the_test_split() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import train_events

    with pytest.raises(SystemExit, match="never reads the test split"):
        train_events.read_split("test")


def test_shipped_pack_keeps_its_quality_on_the_dev_split() -> None:
    result = subprocess.run(
        [sys.executable, "bench/quality.py", "--split", "dev"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["split"] == "dev" and report["passages"] >= 300
    hybrid = report["systems"]["hybrid"]
    assert hybrid["macro_f1"]["all"] >= DEV_FLOORS["hybrid_macro_f1"]
    for event in EVENTS:
        assert hybrid["events"][event]["all"]["f1"] >= DEV_FLOORS["event_f1"], event
    baseline = report["systems"]["baseline"]["macro_f1"]["all"]
    assert hybrid["macro_f1"]["all"] - baseline >= DEV_FLOORS["over_baseline"]
    assert "hybrid f1 per event and language" in result.stderr.lower(), "the table is printed"
