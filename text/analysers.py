"""Per-language word analysis: clitics and inflection for ar, en, fr, ru, chosen by language.

Every word is `text.fold`ed first. Then, for an article word in a language:
- **ar** — proclitics و ف, ب ك ل, ال and their combinations (وبال، فلل …) are stripped, so
  هدنة matches وبالهدنة; light inflection: the accusative ا (قصفًا), the suffixes ه ها هم هما هن
  ك كم نا ي ان ين ون ات يه يين, and for words ending in ة its ت forms (هدنة → هدنات، هدنتين).
  Snowball's Arabic stemmer over-stems news words (انتهاك → انت), so it is not used.
- **en** — light inflection: +s, +es, +ed, +ing, a final e or y dropped (violate → violated,
  party → parties), a final consonant doubled (cut → cutting). No deeper stemming: `violate`
  does not match `violation` (Porter would also merge relations with relative).
- **fr** — Snowball French (PyStemmer), then accents dropped: grève, grèves, greve → grev;
  rompre, rompu and rompt stay apart (Snowball does not conjugate). Elided articles (l', d')
  are separate words already.
- **ru** — Snowball Russian after ё → е: переговоры, переговоров → переговор.
A word in another script than its article's language (an English name in an Arabic text) is
analysed by its script's default: Arabic script → ar, Cyrillic → ru, other → en.
"""

import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterator
from functools import lru_cache

import Stemmer

LANGUAGES = ("ar", "en", "fr", "ru")
MIN_STEM = 2  # shortest Arabic stem left once proclitics are removed
#: Marks an analyser whose query words match by stem equality, not by suffix lists.
STEMMED = frozenset({""})


def script_of(word: str) -> str:
    """`arabic`, `cyrillic` or `latin` (anything else) by the word's first character."""
    first = word[:1]
    if "\u0600" <= first <= "\u06ff" or "\u0750" <= first <= "\u077f":
        return "arabic"
    if "\u0400" <= first <= "\u04ff":
        return "cyrillic"
    return "latin"


class Analyser(ABC):
    """How one language's words match: which forms an article word stands for, and which
    forms a query word accepts. Both sides are already folded."""

    lang: str
    script: str

    def variants(self, token: str) -> tuple[str, ...]:
        """The article word and its forms without clitics."""
        return (token,)

    @abstractmethod
    def bases(self, word: str) -> list[tuple[str, frozenset[str]]]:
        """Query side: (base, allowed suffixes) pairs; the word matches base + any of them."""

    @abstractmethod
    def splits(self, variant: str) -> Iterator[tuple[str, str]]:
        """Article side: every (base, suffix) the word `variant` could be made of."""

    def query_key(self, word: str) -> str:
        """A query word as exact and prefix terms compare it: without Arabic's article."""
        return word


class _Light(Analyser):
    """Inflection by suffix lists: a query word allows some suffixes, an article word is tried
    with each suffix it ends with removed."""

    suffixes: tuple[str, ...] = ()  # every suffix any base allows, shortest first

    def splits(self, variant: str) -> Iterator[tuple[str, str]]:
        for suffix in self.suffixes:
            if len(suffix) >= len(variant):
                break
            if variant.endswith(suffix):
                yield (variant[: len(variant) - len(suffix)] if suffix else variant), suffix


_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ك", "ل")
AR_SUFFIXES = frozenset(
    {
        "",
        "ا",
        "ه",
        "ها",
        "هم",
        "هما",
        "هن",
        "ك",
        "كم",
        "نا",
        "ي",
        "ان",
        "ين",
        "ون",
        "ات",
        "يه",
        "يين",
    }
)
AR_TA_SUFFIXES = frozenset({"ه", "ات", "ان", "ين", "ي", "ها", "هم", "ك", "كم", "نا"})
_AR_TA_FORMS = frozenset({"ه", "ات"} | {"ت" + s for s in AR_TA_SUFFIXES})


def _proclitics() -> tuple[str, ...]:
    prefixes = {c + p + a for c in _CONJUNCTIONS for p in _PREPOSITIONS for a in ("", "ال")}
    prefixes |= {c + "لل" for c in _CONJUNCTIONS}  # ل + ال is written لل
    prefixes.discard("")
    return tuple(sorted(prefixes, key=len))


PROCLITICS = _proclitics()


class Arabic(_Light):
    lang = "ar"
    script = "arabic"
    suffixes = tuple(sorted(AR_SUFFIXES | _AR_TA_FORMS, key=len))

    def variants(self, token: str) -> tuple[str, ...]:
        out = [token]
        for prefix in PROCLITICS:
            if token.startswith(prefix) and len(token) - len(prefix) >= MIN_STEM:
                out.append(token[len(prefix) :])
        return tuple(out)

    def query_key(self, word: str) -> str:
        if word.startswith("ال") and len(word) - 2 >= MIN_STEM:
            return word[2:]
        return word

    def bases(self, word: str) -> list[tuple[str, frozenset[str]]]:
        word = self.query_key(word)
        if word.endswith("ه") and len(word) > MIN_STEM:  # ة: هدنه, هدنات, هدنتين
            return [(word[:-1], _AR_TA_FORMS)]
        return [(word, AR_SUFFIXES)]


EN_SUFFIXES = frozenset({"", "s", "es", "ed", "ing"})
_DOUBLING = "bdfgklmnprstvz"


class English(_Light):
    lang = "en"
    script = "latin"
    suffixes = tuple(
        sorted(
            EN_SUFFIXES | {"ies", "ied"} | {c + s for c in _DOUBLING for s in ("ing", "ed")},
            key=len,
        )
    )

    def variants(self, token: str) -> tuple[str, ...]:
        return (_strip_accents(token),)

    def query_key(self, word: str) -> str:
        return _strip_accents(word)

    def bases(self, word: str) -> list[tuple[str, frozenset[str]]]:
        word = _strip_accents(word)
        forms = [(word, EN_SUFFIXES)]
        if word.endswith("e") and len(word) > 2:
            forms.append((word[:-1], frozenset({"ing", "ed"})))
        if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
            forms.append((word[:-1], frozenset({"ies", "ied"})))
        if word[-1:] in _DOUBLING and len(word) > 2 and word[-2] in "aeiou":
            forms.append((word, frozenset({word[-1] + "ing", word[-1] + "ed"})))
        return forms


class _Snowball(Analyser):
    """Inflection by stem equality: the query word and the article word stem alike."""

    algorithm: str

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer(self.algorithm)

    def stem(self, word: str) -> str:
        return str(self._stemmer.stemWord(word))

    def bases(self, word: str) -> list[tuple[str, frozenset[str]]]:
        return [(self.stem(word), STEMMED)]

    def splits(self, variant: str) -> Iterator[tuple[str, str]]:
        yield self.stem(variant), ""


class French(_Snowball):
    lang = "fr"
    script = "latin"
    algorithm = "french"

    def stem(self, word: str) -> str:
        return _strip_accents(self._stemmer.stemWord(word))


class Russian(_Snowball):
    lang = "ru"
    script = "cyrillic"
    algorithm = "russian"

    def stem(self, word: str) -> str:
        return str(self._stemmer.stemWord(word.replace("ё", "е")))


@lru_cache(maxsize=65536)
def _strip_accents(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


_ANALYSERS: dict[str, Analyser] = {a.lang: a for a in (Arabic(), English(), French(), Russian())}
_BY_SCRIPT = {"arabic": _ANALYSERS["ar"], "cyrillic": _ANALYSERS["ru"], "latin": _ANALYSERS["en"]}


def analyser_for(lang: str | None, word: str) -> Analyser:
    """The analyser of `word` in a text in `lang`: the language's own when the word is in its
    script, else (unknown language, or a foreign word) its script's default."""
    analyser = _ANALYSERS.get(lang) if lang else None
    script = script_of(word)
    if analyser is not None and analyser.script == script:
        return analyser
    return _BY_SCRIPT[script]


def analysers_of_script(script: str) -> list[Analyser]:
    """Every analyser a query word in `script` must be compiled for."""
    return [a for a in _ANALYSERS.values() if a.script == script]
