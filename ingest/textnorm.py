"""A small text normaliser for comparing articles (story grouping), Arabic and English.

Ingest may not import `detect` (imports follow the data), and grouping needs less than matching:
words folded so that a rewritten or re-typed copy of a headline gives the same tokens.

- Unicode NFKC, case folded; Arabic diacritics and tatweel removed; أ إ آ ٱ → ا, ى → ي, ة → ه;
  Arabic-Indic and Persian digits → ASCII;
- words are runs of letters and digits; Arabic proclitics (و ف ب ك ل and ال in combination) are
  stripped from words long enough to keep a stem; a final English possessive or plural `s` too;
- common function words of both languages are dropped (they say nothing about the story).
"""

import re
import unicodedata

_DIACRITICS_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_MAP = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ي",
        "ة": "ه",
        "ؤ": "و",
        "ئ": "ي",
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
    }
)
_WORD_RE = re.compile(r"[^\W_]+")
#: Longest first: و+ب+ال before ب+ال before ال.
_PROCLITICS = ("وبال", "وكال", "فبال", "وال", "فال", "بال", "كال", "لل", "ال", "و", "ف", "ب", "ل")
_STOPWORDS = frozenset(
    """a an the of in on at to for from by with and or but as is are was were be been has have had
    it its this that these those after before over into about says said say will would not no new
    more than up out he she they we you his her their our who which what when where how also
    في من على الى عن ان او ثم قد لا ما مع بعد قبل هذا هذه ذلك تلك التي الذي الذين كان كانت
    يكون حول بين عند منذ خلال كل اي غير لم لن هو هي هم نحو وفق قال قالت اليوم امس""".split()
) | frozenset(  # how outlets decorate a copied headline: nothing about the story itself
    """breaking exclusive update updated live video watch news world reuters afp ap
    عاجل حصري فيديو بالفيديو صور بالصور وكالات""".split()
)


def fold(text: str) -> str:
    """`text` folded for comparison: NFKC, case, Arabic letter variants, digits, no diacritics."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _DIACRITICS_RE.sub("", text).translate(_ARABIC_MAP)


def _stem(word: str) -> str:
    if word[0] >= "\u0600":  # Arabic script
        for clitic in _PROCLITICS:
            if word.startswith(clitic) and len(word) - len(clitic) >= 3:
                return word[len(clitic) :]
        return word
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Content words of `text`, folded and lightly stemmed, in order."""
    out = []
    for word in _WORD_RE.findall(fold(text)):
        if word in _STOPWORDS:
            continue
        stem = _stem(word)
        if stem not in _STOPWORDS and (len(stem) > 1 or stem.isdigit()):
            out.append(stem)
    return out
