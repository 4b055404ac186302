"""`mediawatch fetch` and `mediawatch feeds import|export`, run as a user would (subprocess)."""

import asyncio
import json
from pathlib import Path

import yaml

from ingest.model import Article
from services.feed_server import FeedServer, ServedFeed
from tests.helpers import REPO
from tests.test_config import run_cli

SABQ = REPO / "samples" / "feeds" / "sabq-ar.xml"

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>My reader</title></head><body>
  <outline text="World">
    <outline type="rss" text="Sabq &amp; friends" xmlUrl="https://sabq.org/rss.xml"/>
    <outline type="rss" text="BBC" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
  </outline>
  <outline type="rss" text="Old gopher" xmlUrl="gopher://old.example/feed"/>
  <outline type="rss" text="BBC again" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
</body></opml>
"""


def test_fetch_a_file_prints_article_json_lines() -> None:
    result = run_cli("fetch", str(SABQ), "--lang", "ar")
    assert result.returncode == 0, result.stderr
    articles = [Article.model_validate_json(line) for line in result.stdout.splitlines()]
    assert len(articles) == 13
    assert all(a.lang == "ar" and a.source == "sabq-ar" for a in articles)
    assert any("علييف" in a.title for a in articles)


async def test_fetch_a_url_from_a_real_server(feeds: FeedServer) -> None:
    feeds.feeds["sabq.xml"] = ServedFeed(SABQ.read_bytes(), content_type="text/xml")
    result = await asyncio.to_thread(run_cli, "fetch", feeds.url("sabq.xml"))
    assert result.returncode == 2 and "loopback address" in result.stderr  # SSRF guard
    allow = "--allow-private-networks"
    result = await asyncio.to_thread(run_cli, "fetch", feeds.url("sabq.xml"), allow)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 13 and json.loads(lines[0])["source"] == "127.0.0.1"
    feeds.status_override["gone.xml"] = 410
    result = await asyncio.to_thread(run_cli, "fetch", feeds.url("gone.xml"), allow)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"fetch: {feeds.url('gone.xml')}: HTTP 410"


def test_fetch_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"<html><body>not a feed</body></html>")
    for source in (str(junk), str(tmp_path / "missing.xml")):
        result = run_cli("fetch", source)
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1 and source in result.stderr


def test_import_prints_yaml_feeds_and_skips_what_is_not_a_feed(tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(OPML, encoding="utf-8")
    result = run_cli("feeds", "import", str(opml))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == {
        "feeds": [
            {"url": "https://sabq.org/rss.xml", "name": "Sabq & friends"},
            {"url": "https://feeds.bbci.co.uk/news/world/rss.xml", "name": "BBC"},
        ]
    }
    assert "skipped gopher://old.example/feed" in result.stderr
    # with --config, feeds already configured are left out, so the output can be appended
    config = tmp_path / "mediawatch.yaml"
    config.write_text("feeds:\n  - url: https://sabq.org/rss.xml\n", encoding="utf-8")
    result = run_cli("feeds", "import", str(opml), "--config", str(config))
    assert [f["name"] for f in yaml.safe_load(result.stdout)["feeds"]] == ["BBC"]
    assert "1 feeds already in" in result.stderr


def test_import_of_something_that_is_not_opml_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.opml"
    bad.write_text("<html>no</html>", encoding="utf-8")
    result = run_cli("feeds", "import", str(bad))
    assert result.returncode == 2 and str(bad) in result.stderr and result.stdout == ""


def test_export_then_import_round_trips_the_shipped_config(tmp_path: Path) -> None:
    exported = run_cli("feeds", "export", "--config", "mediawatch.yaml")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("<?xml") and '<opml version="2.0">' in exported.stdout
    opml = tmp_path / "out.opml"
    opml.write_text(exported.stdout, encoding="utf-8")
    imported = run_cli("feeds", "import", str(opml))
    shipped = yaml.safe_load((REPO / "mediawatch.yaml").read_text(encoding="utf-8"))["feeds"]
    got = yaml.safe_load(imported.stdout)["feeds"]
    assert [(f["url"], f["name"]) for f in got] == [(f["url"], f["name"]) for f in shipped]
    assert len(got) == 20
