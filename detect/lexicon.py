"""The cue lexicons of the event frames, per language, compiled into the matcher's term table.

`detect/lexicons/<lang>.yaml` maps each cue category (truce, violate, cut, relations, threat,
negation, ...) to entries. An entry is one or more words that must be adjacent, in order; a
word matches its inflections in the article's language (`text.analysers`), `word*` any word
starting so, and `=word` only that word (where a stem would merge it with another: Russian
`=посла`, the ambassador's genitive, stems like `после`, "after"). YAML quotes around an
entry are only YAML's. Analysts never see these
files: they are the building blocks of the shipped pack's frames (`detect.frames`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from detect.query import MIN_PREFIX
from detect.terms import TermTable
from text.analysers import LANGUAGES
from text.fold import WORD_RE

LEXICON_DIR = Path(__file__).with_name("lexicons")

#: An entry compiled: the term ids of its words, which must occur at consecutive positions.
Entry = tuple[int, ...]


@cache
def load_lexicon(lang: str) -> dict[str, tuple[str, ...]]:
    """Category → entries of one language, as written (read once per process)."""
    path = LEXICON_DIR / f"{lang}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping of category to a list of entries")
    return {str(k): tuple(str(e) for e in v) for k, v in data.items()}


def compile_entry(entry: str, terms: TermTable) -> Entry:
    """Term ids of an entry's words (see the module docstring for the syntax)."""
    ids = []
    for raw in entry.split():
        if raw.endswith("*") and len(raw) > MIN_PREFIX:
            ids.append(terms.prefix(raw[:-1]))
        elif raw.startswith("="):
            ids.extend(terms.exact_word(w) for w in WORD_RE.findall(raw[1:]))
        else:
            ids.extend(terms.word(w) for w in WORD_RE.findall(raw))
    return tuple(ids)


@dataclass
class CueTable:
    """Every language's cue entries compiled into one term table; `of(lang)` gives the
    categories a text in `lang` is read with (all languages merged when it is unknown)."""

    terms: TermTable
    by_lang: dict[str, dict[str, tuple[Entry, ...]]] = field(default_factory=dict)
    lengths: dict[int, int] = field(default_factory=dict)  # term → length of its word
    merged: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    #: per language (and "" for merged): first term → the (category, entry) pairs it starts,
    #: so that reading an article visits only the entries whose first word it contains
    starts: dict[str, dict[int, list[tuple[str, Entry]]]] = field(default_factory=dict)

    @classmethod
    def build(cls, terms: TermTable) -> "CueTable":
        table = cls(terms)
        merged: dict[str, list[Entry]] = {}
        for lang in LANGUAGES:
            compiled = {
                category: tuple(e for e in (compile_entry(x, terms) for x in entries) if e)
                for category, entries in load_lexicon(lang).items()
            }
            table.by_lang[lang] = compiled
            for category, entries in compiled.items():
                merged.setdefault(category, []).extend(entries)
        table.merged = {c: tuple(dict.fromkeys(e)) for c, e in merged.items()}
        table.lengths = terms.weights()
        for key, categories in [*table.by_lang.items(), ("", table.merged)]:
            index: dict[int, list[tuple[str, Entry]]] = {}
            for category, entries in categories.items():
                for entry in entries:
                    index.setdefault(entry[0], []).append((category, entry))
            table.starts[key] = index
        return table

    def starting(self, lang: str | None) -> dict[int, list[tuple[str, Entry]]]:
        """First term → (category, entry) for a text in `lang` (all languages if unknown)."""
        return (
            self.starts.get(lang or "", self.starts[""])
            if lang in self.by_lang
            else self.starts[""]
        )

    def of(self, lang: str | None) -> dict[str, tuple[Entry, ...]]:
        return self.by_lang.get(lang or "", self.merged)

    def key_terms(
        self, categories: tuple[str, ...], cost: Callable[[int], float] | None = None
    ) -> frozenset[int]:
        """Terms of which an article must contain one for any of `categories` to occur: for
        each entry, its rarest term (all its words must occur, so any one is a necessary
        condition). Rarity is `cost` (the matcher's learned document frequency) or, before
        anything is learned, word length: "end to hostilities" waits for "hostilities"."""
        rarity = cost or (lambda t: -self.lengths.get(t, 0))
        return frozenset(
            min(entry, key=lambda t: (rarity(t), t))
            for lang_table in self.by_lang.values()
            for category in categories
            for entry in lang_table.get(category, ())
        )
