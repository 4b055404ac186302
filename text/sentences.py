"""Sentence boundaries for ar, en, fr, ru news text, as character spans of the original.

A sentence ends at `.`, `!`, `?`, `؟` or `…` (with any closing quotes or brackets) followed by
white space, or at a line break; not when a lower-case word follows, nor at the full stop of a
known abbreviation (Mr., U.S., Gen., janv., г.) or of a capital initial (J. Smith). Good
enough to cut an evidence sentence out of an article; event frames are decided inside one
sentence.
"""

import re

_END_RE = re.compile(r"[.!?؟…]+[\"'»”’)\]]*(?=\s)|\n+")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr st gen lt col sgt capt maj adm gov sen rep rev prof jr sr vs etc inc ltd co
    corp no jan feb mar apr jun jul aug sep sept oct nov dec u.s u.n u.k e.u a.m p.m
    m mme mlle mm me av bd janv févr avr juil déc
    г гг т.е т.к им ул д др проф тыс млн млрд""".split()
)
_MAX_SENTENCE = 1_000  # characters: a sentence without full stops is cut here


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, in order, stripped of surrounding space."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END_RE.finditer(text):
        if m.group()[0] != "\n" and _continues(text, m):
            continue
        _add(spans, text, start, m.end())
        start = m.end()
    _add(spans, text, start, len(text))
    return spans


def _continues(text: str, end: "re.Match[str]") -> bool:
    """Whether the sentence goes on after this mark: an abbreviation's full stop, or a
    lower-case word next ("«Who?» he asked")."""
    after = end.end()
    while after < len(text) and text[after] in " \t":
        after += 1
    if after < len(text) and text[after].islower():
        return True
    return end.group().startswith(".") and _is_abbreviation(text, end.start())


def _is_abbreviation(text: str, dot: int) -> bool:
    word_start = dot
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:dot].lower()
    if not word:
        return False
    if word in _ABBREVIATIONS:
        return True
    return len(word) == 1 and text[word_start].isupper()  # an initial: J. Smith


def _add(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > _MAX_SENTENCE:
        cut = text.rfind(" ", start, start + _MAX_SENTENCE)
        cut = cut if cut > start else start + _MAX_SENTENCE
        spans.append((start, cut))
        start = cut + 1 if text[cut : cut + 1] == " " else cut
    if end > start:
        spans.append((start, end))
