"""The shared text package: one folding, per-language analysers, sentence boundaries."""

import pytest

from detect.terms import TermTable
from text.compare import content_words
from text.fold import WORD_RE, FoldedText, fold
from text.sentences import sentence_spans


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("مسؤول", "مسوول"),  # waw with hamza: one folding in ingest and detect
        ("مسئول", "مسيول"),  # yeh with hamza
        ("ﻻ", "لا"),  # lam-alef ligature (presentation form)
        ("ﺍﻟﻬﺪﻧﺔ", "الهدنه"),  # presentation forms
        ("ＣＥＡＳＥＦＩＲＥ", "ceasefire"),  # full-width
        ("cafe\u0301", "café"),  # decomposed accent composed
        ("سوري\u200cا", "سوريا"),  # zero-width non-joiner
        ("ĐÉJÀ", "đéjà"),  # accents kept: the French analyser needs them
        ("Ёлка", "ёлка"),
    ],
)
def test_one_folding_for_every_language(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    "text",
    ["ﻻ تقصف الهدنة", "ＵＮ ceasefire", "une tre\u0300ve rompue", "أَعْلَنَ الهُدْنَةَ", "İstanbul truce"],
)
def test_every_folded_word_maps_back_to_its_original_word(text: str) -> None:
    folded = FoldedText.of(text)
    originals = [
        text[slice(*folded.original_span(*m.span()))] for m in WORD_RE.finditer(folded.folded)
    ]
    assert [fold(o) for o in originals] == WORD_RE.findall(folded.folded)


def matches(query_word: str, article_word: str, lang: str | None) -> bool:
    terms = TermTable()
    term = terms.word(query_word)
    return term in terms.terms_of(fold(article_word), lang)


@pytest.mark.parametrize(
    ("query_word", "article_word", "lang", "match"),
    [
        ("grève", "grèves", "fr", True),
        ("greve", "grèves", "fr", True),  # accents dropped after stemming
        ("bombardement", "bombardements", "fr", True),
        ("trêve", "trêves", "fr", True),
        ("violation", "violations", "fr", True),
        ("rompre", "rompu", "fr", False),  # Snowball does not conjugate: write both
        ("переговоры", "переговоров", "ru", True),
        ("перемирие", "перемирия", "ru", True),
        ("обстрел", "обстрелов", "ru", True),
        ("посол", "посла", "ru", False),  # the stems differ (посол / посл)
        ("ёлка", "елки", "ru", True),
        ("violate", "violation", "en", False),  # English stays light
        ("violate", "violated", "en", True),
        ("هدنة", "وبالهدنة", "ar", True),
        ("هدنة", "وبالهدنة", "en", True),  # a foreign-script word: its script's analyser
        ("truce", "truces", "ru", True),
    ],
)
def test_words_match_by_the_article_language(
    query_word: str, article_word: str, lang: str, match: bool
) -> None:
    assert matches(query_word, article_word, lang) is match


def test_the_language_chooses_the_inflection() -> None:
    # French stemming merges négociations/négocié; English light inflection does not
    assert matches("négociations", "négocié", "fr")
    assert not matches("négociations", "négocié", "en")


def test_story_words_fold_and_stem_per_language() -> None:
    assert content_words("وبالهدنة والحكومة في غزة") == ["هدنه", "حكومه", "غزه"]
    assert content_words("مسؤول") == content_words("مسئول".replace("ئ", "ؤ"))
    assert content_words("Les négociations de paix", "fr") == content_words(
        "la négociation de la paix", "fr"
    )
    assert content_words("Переговоры о перемирии", "ru") == content_words(
        "переговоров о перемирие", "ru"
    )


def test_sentences() -> None:
    text = (
        "Mr. Smith said the U.S. would act. Fighting resumed in Gaza! «Who?» he asked.\n"
        "وقال الوزير إن الهدنة انهارت. وأضاف أن القصف مستمر؟ نعم"
    )
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Mr. Smith said the U.S. would act.",
        "Fighting resumed in Gaza!",
        "«Who?» he asked.",
        "وقال الوزير إن الهدنة انهارت.",
        "وأضاف أن القصف مستمر؟",
        "نعم",
    ]


def test_a_sentence_without_full_stops_is_cut() -> None:
    spans = sentence_spans("word " * 1000)
    assert len(spans) > 1
    assert all(b - a <= 1000 for a, b in spans)
