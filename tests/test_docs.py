"""The docs cannot drift from the code: their examples run here."""

import re

import pytest

from tests.helpers import REPO
from tests.test_detect import fires

DOCS = REPO / "docs"


def query_examples() -> list[tuple[str, str, str, str]]:
    text = (DOCS / "query-language.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(.+?)` \| (\w\w) \| (.+?) \| (.+?) \|$", text, re.M)
    assert len(rows) >= 10, "the operator table was not found"
    return rows


@pytest.mark.parametrize(("query", "lang", "yes", "no"), query_examples())
def test_every_query_example_fires_where_the_docs_say(
    query: str, lang: str, yes: str, no: str
) -> None:
    assert fires(query, yes, lang=lang), f"{query!r} should fire on {yes!r}"
    assert not fires(query, no, lang=lang), f"{query!r} should not fire on {no!r}"


def test_docs_link_to_pages_that_exist() -> None:
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([\w./-]+\.md)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).resolve().exists(), f"{page.name} links to {target}"


def test_every_yaml_example_of_the_docs_is_a_valid_watchlist_or_config() -> None:
    import yaml

    from detect.watchlist import Watchlist

    checked = 0
    for page in DOCS.glob("*.md"):
        for block in re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            data = yaml.safe_load(block)
            if "rules" in data:
                Watchlist.model_validate(data)
                checked += 1
    assert checked >= 1
