"""Guess an article's language when neither config nor feed says: `LanguageGuesser`.

py3langid (langid.py's maintained fork) ships its model inside the package, so nothing is
downloaded at run time. Headlines are short, so the guess reads the title and the start of the
text, and is kept only above `min_confidence`; limiting the candidates to the languages an
operator actually ingests (`ingest.languages`) makes short texts far more reliable.
"""

from collections.abc import Sequence

from ingest.model import Article

#: How much text is read: enough for a confident guess, little enough to stay cheap.
SAMPLE_CHARS = 300
#: A feed whose first articles all guess the same language is taken to be in it...
FEED_SAMPLE = 4


class LanguageGuesser:
    """Loads the model once (about half a second); `guess` is then ~0.1 ms per article."""

    def __init__(self, languages: Sequence[str] = (), *, min_confidence: float = 0.5) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # numpy: import when used

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if languages:
            self._identifier.set_languages(list(languages))
        self.min_confidence = min_confidence

    def guess(self, title: str, text: str = "") -> str | None:
        """ISO 639-1 code of the text's language, or None when unsure."""
        sample = f"{title}\n{text[:SAMPLE_CHARS]}".strip()
        if not any(ch.isalpha() for ch in sample):
            return None
        lang, confidence = self._identifier.classify(sample)
        return str(lang) if float(confidence) >= self.min_confidence else None


def script_of(text: str) -> str:
    """`arabic` when most letters of `text` are Arabic script, else `other` (cheap, per article)."""
    letters = [ch for ch in text[:200] if ch.isalpha()]
    arabic = sum(1 for ch in letters if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f")
    return "arabic" if letters and arabic * 2 > len(letters) else "other"


class FeedLanguages:
    """Guesses for one feed's articles, cheaper than one model call per article: once its first
    `FEED_SAMPLE` articles agree, later ones in the same script take that language unguessed
    (...and an article in another script, in a mixed feed, is still guessed on its own)."""

    def __init__(self, guesser: LanguageGuesser) -> None:
        self._guesser = guesser
        self._votes: list[tuple[str | None, str]] = []
        self._consensus: tuple[str, str] | None = None

    def guess(self, title: str, text: str) -> str | None:
        script = script_of(title + " " + text[:100])
        if self._consensus is not None and self._consensus[1] == script:
            return self._consensus[0]
        lang = self._guesser.guess(title, text)
        if self._consensus is None and len(self._votes) < FEED_SAMPLE:
            self._votes.append((lang, script))
            if len(self._votes) == FEED_SAMPLE and len(set(self._votes)) == 1 and lang:
                self._consensus = (lang, script)
        return lang


def with_languages(articles: Sequence[Article], guesser: LanguageGuesser) -> list[Article]:
    """`articles` (of one feed), those without a language given one when the guess is sure.

    Ingest calls it on the articles it has not seen before only: a feed that changed usually
    brings one or two new items, and guessing the fifty old ones again would be wasted work.
    """
    guesses = FeedLanguages(guesser)
    out = []
    for article in articles:
        if article.lang is None:
            lang = guesses.guess(article.title, article.text)
            if lang is not None:
                article = article.model_copy(update={"lang": lang})
        out.append(article)
    return out
