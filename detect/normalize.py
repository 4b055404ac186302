"""Text normalisation shared by watchlist terms and article text.

`fold` is applied to whole texts at C speed (`str.lower` + `str.translate`):
- case is ignored; Arabic-Indic and Persian digits become ASCII digits;
- Arabic diacritics (harakat, shadda, sukun, dagger alef, Quranic marks) and tatweel are removed;
- أ إ آ ٱ become ا, ى becomes ي, ة becomes ه.
Removing marks shortens the text, so `OffsetMap` maps folded offsets back to the original ones
(only computed when an alert needs them).
"""

import bisect
import re
from dataclasses import dataclass

_MARKS = [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06EE), 0x0640]
_MARKS_RE = re.compile("[" + "".join(chr(c) for c in _MARKS) + "]")
_LETTERS = (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ٱ", "ا"), ("ى", "ي"), ("ة", "ه"))
_DIGITS = str.maketrans(
    {**{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)}}
)
_DIGITS_RE = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
WORD_RE = re.compile(r"\w+")
ARABIC_RE = re.compile("[\u0621-\u064a]")


def fold(text: str) -> str:
    """Case, diacritics, tatweel, letter-variant and digit folding (see module docstring)."""
    return _fold_lowered(text.lower())


def _fold_lowered(text: str) -> str:
    # str.replace and one regex pass run at C speed; a translate table is 15x slower here
    if text.isascii():
        return text
    text = _MARKS_RE.sub("", text)
    for variant, letter in _LETTERS:
        if variant in text:
            text = text.replace(variant, letter)
    if _DIGITS_RE.search(text):
        text = text.translate(_DIGITS)
    return text


def is_arabic(word: str) -> bool:
    return bool(ARABIC_RE.match(word))


@dataclass
class FoldedText:
    """A text folded for matching, able to map folded offsets back to the original."""

    original: str
    folded: str
    _removed: list[int] | None = None  # original offsets of removed characters

    @classmethod
    def of(cls, text: str) -> "FoldedText":
        lowered = text.lower()
        if len(lowered) != len(text):  # rare: e.g. 'İ' lowers to two characters
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
        return cls(text, _fold_lowered(lowered))

    def original_offset(self, folded_offset: int) -> int:
        """Offset in the original text of the character at `folded_offset` (or the end)."""
        if len(self.folded) == len(self.original):
            return folded_offset
        if self._removed is None:
            self._removed = [m.start() for m in _MARKS_RE.finditer(self.original)]
        # walk: each removed char before the target shifts it right by one
        offset = folded_offset
        shift = 0
        while True:
            moved = bisect.bisect_right(self._removed, offset + shift) if self._removed else 0
            if moved == shift:
                return offset + shift
            shift = moved

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original (start, end) of the folded span [start, end)."""
        if end <= start:
            return self.original_offset(start), self.original_offset(start)
        last = self.original_offset(end - 1) + 1
        while last < len(self.original) and _MARKS_RE.match(self.original, last):
            last += 1  # keep the marks that belong to the last letter
        return self.original_offset(start), last
