"""Text normalisation shared by watchlist terms and article text.

What a term matches (documented in README "Writing watchlists"):
- case is ignored (Unicode casefold); Arabic-Indic and Persian digits equal ASCII digits;
- Arabic diacritics (harakat, shadda, sukun, dagger alef) and tatweel are ignored;
  أ إ آ ٱ are read as ا, ى as ي, ة as ه;
- an Arabic text word also matches with its proclitics removed: the conjunctions و ف, the
  prepositions ب ك ل, the article ال and their combinations (وبال، فلل، كال …), so the term
  هدنة matches وبالهدنة. A term written with ال (الهدنة) matches with or without it.
Tokens are runs of letters and digits; punctuation and hyphens separate tokens.
"""

import re
import unicodedata
from dataclasses import dataclass

_ARABIC_MARKS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
_TOKEN_RE = re.compile(rf"[\w{_ARABIC_MARKS}]+")
_MARKS_RE = re.compile(f"[{_ARABIC_MARKS}]")
_ARABIC_LETTER_RE = re.compile("[\u0621-\u064a]")

_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
    }
)

_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ك", "ل")
#: Shortest stem left after removing proclitics; shorter remainders are not words.
MIN_STEM = 2


def _proclitic_prefixes() -> tuple[str, ...]:
    prefixes = {c + p + a for c in _CONJUNCTIONS for p in _PREPOSITIONS for a in ("", "ال")}
    prefixes |= {c + "لل" for c in _CONJUNCTIONS}  # ل + ال is written لل
    prefixes.discard("")
    return tuple(sorted(prefixes, key=len))


PROCLITICS = _proclitic_prefixes()


@dataclass(frozen=True, slots=True)
class Token:
    """A word of the original text: its offsets there and the forms it can match."""

    start: int
    end: int
    forms: frozenset[str]


def fold(word: str) -> str:
    """Case, diacritics, tatweel, alef/ya/ta-marbuta and digit folding of one word."""
    return _MARKS_RE.sub("", unicodedata.normalize("NFC", word).casefold()).translate(_FOLD)


def text_forms(word: str) -> frozenset[str]:
    """Every form an article word can match: itself and its stems without proclitics."""
    folded = fold(word)
    if not folded:
        return frozenset()
    forms = {folded}
    if _ARABIC_LETTER_RE.match(folded):
        for prefix in PROCLITICS:
            if folded.startswith(prefix) and len(folded) - len(prefix) >= MIN_STEM:
                forms.add(folded[len(prefix) :])
    return frozenset(forms)


def term_form(word: str) -> str:
    """The single form a watchlist word is matched by (its definite article dropped)."""
    folded = fold(word)
    if folded.startswith("ال") and len(folded) - 2 >= MIN_STEM:
        return folded[2:]
    return folded


def tokenize(text: str) -> list[Token]:
    """Tokens of `text` with their match forms, offsets into `text` kept."""
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        forms = text_forms(m.group())
        if forms:
            tokens.append(Token(m.start(), m.end(), forms))
    return tokens


def term_tokens(phrase: str) -> tuple[str, ...]:
    """A watchlist keyword or phrase as the sequence of forms it must match."""
    return tuple(f for f in (term_form(m.group()) for m in _TOKEN_RE.finditer(phrase)) if f)
