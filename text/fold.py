"""One folding for every language, applied to whole texts at C speed.

`fold(text)`:
- lower case; Unicode NFKC where it matters, so full-width letters, Arabic presentation forms
  and ligatures (ﻻ, ﬁ) become the letters they show, and decomposed accents are composed;
- removed: Arabic diacritics (harakat, shadda, sukun, dagger alef, Quranic marks), tatweel,
  leftover combining accents, and invisible format characters (zero-width joiners, soft
  hyphen, bidi marks), none of which changes a word;
- Arabic letter variants: أ إ آ ٱ → ا, ى ی → ي, ة ۀ → ه, ؤ → و, ئ → ي, ک → ك;
- Arabic-Indic and Persian digits → ASCII digits.

Latin accents are kept here: the French analyser stems with them and drops them afterwards
(`text.analysers`). Folding shortens or rearranges texts, so `FoldedText` maps folded offsets
back to the original ones (computed only when an alert needs them).
"""

import bisect
import re
import unicodedata
from dataclasses import dataclass, field

#: Characters fold removes: Arabic marks and tatweel, combining accents left after NFKC,
#: and format characters (ZWNJ, ZWJ, LRM, RLM, ALM, soft hyphen, bidi embeddings/isolates).
_REMOVED = (
    "\u0300-\u036f\u0483-\u0489\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
    "\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
)
_REMOVED_RE = re.compile(f"[{_REMOVED}]")
_LETTERS = (
    ("أ", "ا"),
    ("إ", "ا"),
    ("آ", "ا"),
    ("ٱ", "ا"),
    ("ى", "ي"),
    ("ی", "ي"),
    ("ة", "ه"),
    ("ۀ", "ه"),
    ("ؤ", "و"),
    ("ئ", "ي"),
    ("ک", "ك"),
)
_DIGITS = str.maketrans(
    {**{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)}}
)
_DIGITS_RE = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
#: What NFKC is applied for: decomposed accents, Latin ligatures, Arabic presentation forms,
#: full-width and half-width forms. Other compatibility characters (…, no-break space) are not
#: parts of words, and leaving them alone keeps offsets one-to-one for nearly every text.
_NFKC_RE = re.compile("[\u0300-\u036f\ufb00-\ufdff\ufe70-\ufefe\uff00-\uffef]")
#: A word: a run of letters, digits (and underscores). Apostrophes and hyphens separate words,
#: so French elision (l'armée) and compounds (cessez-le-feu) are several words.
WORD_RE = re.compile(r"\w+")


def fold(text: str) -> str:
    """`text` folded for matching (see the module docstring)."""
    return _fold(text.lower())[0]


def _fold(lowered: str) -> tuple[str, bool]:
    """Folded text, and whether NFKC changed it (then offsets need the slow map)."""
    # str.replace and one regex pass run at C speed; a translate table is 15x slower here
    if lowered.isascii():
        return lowered, False
    composed = False
    if _NFKC_RE.search(lowered):
        normal = unicodedata.normalize("NFKC", lowered)
        composed = normal != lowered
        lowered = normal
    text = _REMOVED_RE.sub("", lowered)
    for variant, letter in _LETTERS:
        if variant in text:
            text = text.replace(variant, letter)
    if _DIGITS_RE.search(text):
        text = text.translate(_DIGITS)
    return text, composed


@dataclass
class FoldedText:
    """A text folded for matching, able to map folded offsets back to the original."""

    original: str
    folded: str
    _composed: bool = False  # NFKC or a multi-character lower case changed lengths
    _removed: list[int] | None = None  # original offsets of removed characters
    _map: list[int] | None = field(default=None, repr=False)  # folded → original, slow path

    @classmethod
    def of(cls, text: str) -> "FoldedText":
        lowered = text.lower()
        folded, composed = _fold(lowered)
        return cls(text, folded, composed or len(lowered) != len(text))

    def original_offset(self, folded_offset: int) -> int:
        """Offset in the original text of the character at `folded_offset` (or the end)."""
        if len(self.folded) == len(self.original) and not self._composed:
            return folded_offset
        if self._composed:
            mapping = self._slow_map()
            if folded_offset >= len(mapping):
                return len(self.original)
            return mapping[folded_offset]
        if self._removed is None:
            self._removed = [m.start() for m in _REMOVED_RE.finditer(self.original)]
        # walk: each removed char before the target shifts it right by one
        offset = folded_offset
        shift = 0
        while True:
            moved = bisect.bisect_right(self._removed, offset + shift) if self._removed else 0
            if moved == shift:
                return offset + shift
            shift = moved

    def folded_offset(self, original_offset: int) -> int:
        """Offset in the folded text of the first character at or after `original_offset`."""
        if len(self.folded) == len(self.original) and not self._composed:
            return original_offset
        if self._composed:
            return bisect.bisect_left(self._slow_map(), original_offset)
        if self._removed is None:
            self._removed = [m.start() for m in _REMOVED_RE.finditer(self.original)]
        return original_offset - bisect.bisect_left(self._removed, original_offset)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original (start, end) of the folded span [start, end)."""
        if end <= start:
            return self.original_offset(start), self.original_offset(start)
        first = self.original_offset(start)
        last = self.original_offset(end - 1) + 1
        original = self.original
        while last < len(original) and (
            _REMOVED_RE.match(original, last) or unicodedata.combining(original[last])
        ):
            last += 1  # keep the marks that belong to the last letter
        return first, last

    def _slow_map(self) -> list[int]:
        """Folded offset → original offset, folding one base character and its marks at a time
        (NFKC composes only within such a cluster). Rare: presentation forms, full-width text,
        decomposed accents."""
        if self._map is None:
            original = self.original
            mapping: list[int] = []
            i = 0
            while i < len(original):
                j = i + 1
                while j < len(original) and unicodedata.combining(original[j]):
                    j += 1
                mapping.extend([i] * len(fold(original[i:j])))
                i = j
            if len(mapping) != len(self.folded):  # cannot happen for ordinary text: clamp
                mapping = [
                    min(len(original) - 1, k * len(original) // max(1, len(self.folded)))
                    for k in range(len(self.folded))
                ]
            self._map = mapping
        return self._map
