"""Cut an article that would not fit in one Kafka message, rather than lose it or stall its feed.

A broker refuses a record above its size limit (`MessageSizeTooLargeError`), and refuses it again
at every poll: one 2 MB item used to stop its feed for good. `fit` shortens the text (then, if
that is not enough, the title) on a word boundary, marked with an ellipsis, until the article's
JSON fits in `max_bytes`. The detector sees the start of a long article, which is where news
puts what matters.
"""

from ingest.model import Article

ELLIPSIS = "…"
#: How far back from a cut we look for a space to cut at instead of inside a word.
_WORD_LOOKBACK = 100


def encoded_size(article: Article) -> int:
    """Bytes of the article as ingest sends it."""
    return len(article.model_dump_json().encode("utf-8"))


def fit(article: Article, max_bytes: int) -> tuple[Article, bool]:
    """The article cut to at most `max_bytes` of JSON, and whether it had to be cut.

    Best effort: an article whose id and URL alone exceed the limit comes back as small as
    cutting its title and text can make it (the broker will refuse it; the feed goes on).
    """
    size = encoded_size(article)
    if size <= max_bytes:
        return article, False
    for field in ("text", "title"):
        while size > max_bytes:
            value: str = getattr(article, field)
            if not value or value == ELLIPSIS:
                break
            excess = size - max_bytes
            article = article.model_copy(update={field: _shortened(value, excess)})
            size = encoded_size(article)
    return article, True


def _shortened(value: str, excess: int) -> str:
    """`value` at least `excess` bytes shorter (as UTF-8, plus room for the ellipsis)."""
    data = value.encode("utf-8")
    keep = max(0, len(data) - excess - len(ELLIPSIS.encode("utf-8")))
    cut = data[:keep].decode("utf-8", "ignore")
    space = cut.rfind(" ", max(0, len(cut) - _WORD_LOOKBACK))
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS
