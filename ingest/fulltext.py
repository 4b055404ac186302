"""Full article text for feeds that only carry a headline or a teaser: `extract_text`.

trafilatura finds the main text of a news page (dropping navigation, footers, comments). It is an
optional extra (`pip install mediawatch[fulltext]`: it brings lxml and date parsers), imported
only when a feed asks for full text (`feeds[].full_text: true`).
"""


def available() -> bool:
    """Whether the `fulltext` extra is installed."""
    try:
        import trafilatura  # noqa: F401
    except ImportError:
        return False
    return True


def extract_text(html: bytes, url: str) -> str | None:
    """The page's main text, or None when trafilatura finds none."""
    import trafilatura

    text = trafilatura.extract(html, url=url, favor_precision=True, include_comments=False)
    if not text:
        return None
    return str(text).strip() or None
