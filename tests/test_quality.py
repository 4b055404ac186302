"""The shipped conflict pack keeps its quality on the labelled real-news passages.

Runs bench/quality.py as a user would (README) and holds the pack to floors a little below
what it measures today, so a matcher or pack change that loses quality fails here.
"""

import json
import subprocess
import sys

from tests.helpers import REPO

FLOORS = {"precision": 0.85, "recall": 0.8}


def test_quality_per_event_on_the_labelled_passages() -> None:
    result = subprocess.run(
        [sys.executable, "bench/quality.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["passages"] >= 200
    for event, by_lang in report["all"].items():
        for metric, floor in FLOORS.items():
            assert by_lang["both"][metric] >= floor, (event, by_lang["both"])
