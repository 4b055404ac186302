"""The ingest benchmark runs end to end on a few feeds and prints the JSON it promises."""

import json
import subprocess
import sys

from tests.helpers import REPO


def test_ingest_scale_bench_prints_json_figures() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ingest_scale.py"), "--feeds", "20", "--runs", "1",
         "--naive-feeds", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["feeds"] == 20
    assert figures["full_parse"]["errors"] == 0 and figures["full_parse"]["articles"] >= 20 * 20
    assert figures["conditional"]["not_modified"] == 20
    assert figures["conditional"]["articles"] == 0  # nothing new the second time
    assert figures["changed_two_new_items_each"]["articles"] == 2 * 20  # only the new ones
    assert figures["naive_sequential_feedparser"]["feeds"] == 5
    assert figures["projection_10000_feeds_every_300s"]["cores_if_every_poll_is_a_304"] >= 0
