"""`mediawatch fetch` and `mediawatch feeds import|export`, run as a user would (subprocess)."""

import asyncio
import json
from pathlib import Path

import yaml

from ingest.model import Article
from services.config import FeedConfig, load_config
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
    assert result.stderr == (
        f"{opml}: skipped 'Old gopher' (gopher://old.example/feed): it is not an http or https "
        "URL\n"
    )
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
    assert exported.stdout.startswith("<?xml") and "<opml " in exported.stdout
    opml = tmp_path / "out.opml"
    opml.write_text(exported.stdout, encoding="utf-8")
    imported = run_cli("feeds", "import", str(opml))
    assert imported.returncode == 0 and imported.stderr == ""
    got = [FeedConfig.model_validate(f) for f in yaml.safe_load(imported.stdout)["feeds"]]
    assert got == load_config(REPO / "mediawatch.yaml").config.feeds
    assert len(got) == 20


def test_export_then_import_keeps_every_feed_field(tmp_path: Path) -> None:
    feeds = [
        {
            "url": "https://a.example/rss",
            "name": "Sabq & <friends>",
            "lang": "ar",
            "interval": "90s",
            "full_text": True,
        },
        {"url": "https://b.example/rss", "interval": 1.5},
        {"url": "https://c.example/rss", "interval": 7200, "lang": "en"},
    ]
    assert set(feeds[0]) == set(FeedConfig.model_fields), "a new feed field must round-trip"
    config = tmp_path / "mediawatch.yaml"
    config.write_text(yaml.safe_dump({"feeds": feeds}), encoding="utf-8")
    exported = run_cli("feeds", "export", "--config", str(config))
    opml = tmp_path / "out.opml"
    opml.write_text(exported.stdout, encoding="utf-8")
    imported = run_cli("feeds", "import", str(opml))
    assert imported.returncode == 0 and imported.stderr == ""
    entries = yaml.safe_load(imported.stdout)["feeds"]
    assert entries[2] == {"url": "https://c.example/rss", "lang": "en", "interval": "2h"}
    assert [FeedConfig.model_validate(e) for e in entries] == load_config(config).config.feeds


def test_import_keeps_a_feed_without_a_bad_field_and_says_why(tmp_path: Path) -> None:
    opml = tmp_path / "odd.opml"
    opml.write_text(
        '<?xml version="1.0"?>\n<opml version="1.0" xmlns:mw="urn:mediawatch:opml"><body>\n'
        '<outline text="US" XMLURL="https://us.example/rss" language="en-US"/>\n'
        '<outline text="Odd" xmlUrl="https://odd.example/rss" language="english" '
        'mw:interval="soon"/>\n'
        "</body></opml>\n",
        encoding="utf-8",
    )
    result = run_cli("feeds", "import", str(opml))
    assert yaml.safe_load(result.stdout)["feeds"] == [
        {"url": "https://us.example/rss", "name": "US", "lang": "en"},
        {"url": "https://odd.example/rss", "name": "Odd"},
    ]
    assert result.stderr.splitlines() == [
        f"{opml}: 'Odd' (https://odd.example/rss): its language 'english' is not a two-letter "
        "code such as en or ar, so it is left out",
        f"{opml}: 'Odd' (https://odd.example/rss): its interval 'soon' is not a duration such "
        "as 90s, 5m or 1h, so it is left out",
    ]
