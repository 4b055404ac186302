"""Issue 12: a query nested thousands of levels deep is a clear error, never a RecursionError."""

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detect.errors import QueryError
from detect.matcher import build_matcher
from detect.query import MAX_DEPTH, parse_query
from detect.watchlist import Watchlist
from ingest.model import Article
from tests.test_config import run_cli

TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def fires(query: str, title: str) -> bool:
    """Whether `query` matches an article titled `title`: parse, compile and evaluate it."""
    wl = Watchlist.model_validate({"id": "w", "title": "W", "rules": [{"id": "r", "query": query}]})
    article = Article(
        id="a", url="https://x.example/1", title=title, source="s", ingested_at=datetime.now(UTC)
    )
    return bool(build_matcher([wl]).match(article))


def brackets(n: int) -> str:
    return "(" * n + "ceasefire" + ")" * n


def nots(n: int) -> str:  # NOT NOT ... x: each NOT nests the next
    return "ceasefire " + "NOT " * n + "football"


def near_chain(n: int) -> str:  # a NEAR b NEAR c ...: nests to the left
    return "ceasefire" + " NEAR/3 ceasefire" * n


def bare_not_chain(n: int) -> str:  # a NOT b NOT c ...: each bare NOT nests what precedes it
    return "ceasefire" + " NOT football" * n


def fields(n: int) -> str:
    return "title:(" * n + "ceasefire" + ")" * n


SHAPES = [brackets, nots, near_chain, bare_not_chain, fields]


@pytest.mark.parametrize("shape", SHAPES)
def test_thousands_of_levels_are_refused_with_the_limit(shape: object) -> None:
    assert callable(shape)
    query = shape(3000)[:10_000]  # MAX_QUERY_CHARS
    with pytest.raises(QueryError, match=TOO_DEEP):
        parse_query(query)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_limit_itself_parses_compiles_and_matches(shape: object) -> None:
    assert callable(shape)
    deepest = shape(MAX_DEPTH)
    assert fires(deepest, "ceasefire " * 40) is (shape is not nots or MAX_DEPTH % 2 == 1)
    with pytest.raises(QueryError, match=TOO_DEEP):
        parse_query(shape(MAX_DEPTH + 1))


def test_the_error_points_at_the_first_level_too_many() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(brackets(3000))
    assert caught.value.column == MAX_DEPTH + 1  # the 33rd '('


def test_random_nesting_gives_a_query_or_a_query_error() -> None:
    """Like the issue's 20,000 garbage queries, but weighted towards nesting."""
    tokens = ["(", "(", ")", "NOT", "NEAR/2", "title:", "truce", "OR", "AND", '"a b"', "x*"]
    rng = random.Random(12)
    for _ in range(300):
        query = " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 2500)))[:10_000]
        try:
            parse_query(query)
        except QueryError:
            continue
        fires(query, "truce a b")  # whatever parses also compiles and evaluates


def test_check_and_match_report_file_line_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(
        f"id: deep\ntitle: Deep\nrules:\n  - id: nested\n    query: '{brackets(3000)}'\n",
        encoding="utf-8",
    )
    expected = (
        f"{path}:5: rule nested: query: {TOO_DEEP} (each bracket, NOT and NEAR is a level) "
        f"at column {MAX_DEPTH + 1}"
    )
    result = run_cli("match", "--watchlists", str(path), stdin='{"id": "1", "title": "x"}\n')
    assert (result.returncode, result.stderr.strip(), result.stdout) == (1, expected, "")


def test_detect_refuses_to_start_on_it_with_the_same_line(tmp_path: Path) -> None:
    watchlists = tmp_path / "wl"
    watchlists.mkdir()
    path = watchlists / "deep.yaml"
    path.write_text(
        f"id: deep\ntitle: Deep\nrules:\n  - id: nested\n    query: '{near_chain(500)}'\n",
        encoding="utf-8",
    )
    config = tmp_path / "mediawatch.yaml"
    config.write_text(f"watchlists: [{watchlists}]\nmetrics: {{port: 0}}\n", encoding="utf-8")
    # the watchlists are loaded before any Kafka connection: no broker needed to see the error
    result = run_cli("detect", "--config", str(config), "--bootstrap", "127.0.0.1:9")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"{path}:5: rule nested: query: {TOO_DEEP} (each bracket, NOT and NEAR is a level) "
    )
