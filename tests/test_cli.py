"""The offline commands users run from the README: `match` and `demo`."""

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, fixture_article

MEDIAWATCH = [sys.executable, "-m", "services.cli"]


def test_match_writes_one_line_per_input_line_in_order() -> None:
    title, text = fixture_article()
    lines = [
        json.dumps({"id": "sabq", "title": title, "text": text, "lang": "ar"}, ensure_ascii=False),
        json.dumps({"id": 2, "title": "Football: derby ends in a draw", "text": "", "lang": "en"}),
        "",
        "{broken json",
        json.dumps({"title": "no id"}),
        json.dumps({"id": "en", "title": "Army says rebels violated the ceasefire"}),
    ]
    result = subprocess.run(
        [*MEDIAWATCH, "match", "--watchlists", "watchlists/"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["sabq", 2, None, None, "en"]
    events = {a["event"] for a in out[0]["alerts"]}
    assert {"ceasefire_violation", "threat_to_cut_relations", "shelling_or_strike"} <= events
    assert out[1]["alerts"] == []
    assert "error" in out[2] and "missing field 'id'" in out[3]["error"]
    assert out[4]["alerts"][0]["matches"][0]["text"] == "violated the ceasefire"
    assert result.returncode == 1  # two lines were not articles


def test_match_reads_a_file_and_uses_the_config_watchlists(tmp_path: object) -> None:
    result = subprocess.run(
        [*MEDIAWATCH, "match", "--config", "mediawatch.yaml", "-"],
        input='{"id": "x", "title": "خرق الهدنة"}\n',
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["alerts"][0]["event"] == "ceasefire_violation"


def test_demo_prints_the_fixture_alerts_and_exits_0() -> None:
    result = subprocess.run(
        [*MEDIAWATCH, "demo", "--jsonl"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert alerts, "the samples hold alerts"
    assert len({a["id"] for a in alerts}) == len(alerts), "no alert printed twice"
    fixture = {a["event"] for a in alerts if "علييف" in a["article"]["title"]}
    assert {"ceasefire_violation", "threat_to_cut_relations"} <= fixture
    assert "articles through ingest, detect and notify" in result.stderr
    # who did what to whom; the Arabic and English reports of Algeria's break with Morocco are
    # one story; the staged fortnight ends in an escalation about Ukraine
    threat = next(
        a
        for a in alerts
        if a["event"] == "threat_to_cut_relations" and "علييف" in (a["article"]["title"])
    )
    assert {"id": "AZ", "kind": "country", "name": "Azerbaijan", "role": "actor"} in threat[
        "actors"
    ]
    algeria = {
        a["article"]["lang"]: a["story_id"]
        for a in alerts
        if a["event"] == "relations_cut"
        and ("Algeria" in a["article"]["title"] or "الجزائر" in a["article"]["title"])
    }
    assert set(algeria) == {"ar", "en"} and algeria["ar"] == algeria["en"]
    ukraine = [a for a in alerts if a.get("escalation") and a["escalation"]["country"] == "UA"]
    assert len(ukraine) == 1 and ukraine[0]["event"] == "shelling_or_strike"


def test_the_readable_demo_shows_roles_one_story_and_an_escalation_chart() -> None:
    result = subprocess.run(
        [*MEDIAWATCH, "demo"], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "  who: by Algeria · against Morocco\n" in out
    assert re.search(r"same story as «.(Algeria|الجزائر)[^»]*», also reported by .+ \(\w\w\)", out)
    chart = re.search(
        r"\[ESCALATION\] shelling_or_strike · Ukraine \(UA\)\n(?:.*\n){3}  chart: (.+)", out
    )
    assert chart, out[-3000:]
    assert Path(chart[1]).read_bytes().startswith(b"\x89PNG")
