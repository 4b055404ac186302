"""Which article words a query word matches, and a cached index from words to terms.

A query word is compiled once per language of its script (Latin: en and fr; Arabic: ar;
Cyrillic: ru) by that language's analyser (`text.analysers`, which says what a word matches in
each language). An article word is looked up with the analyser of the article's language, so
French `grève` matches `grèves` in a French article and Russian `переговоры` matches
`переговоров`. Three kinds of terms:
- a bare word (`violate`, `هدنة`) matches its inflections in the article's language;
- a word inside quotes ("وقف إطلاق النار", "violated the ceasefire") matches only itself
  (folded, Arabic proclitics allowed): no inflections;
- `word*` matches every word that starts with `word` (after the proclitics).
"""

from collections import defaultdict
from dataclasses import dataclass, field

from detect.query import MIN_PREFIX
from text.analysers import STEMMED, analyser_for, analysers_of_script, script_of
from text.fold import fold

_Stems = dict[str, list[tuple[int, frozenset[str]]]]


def _stems() -> _Stems:
    return defaultdict(list)


def _ids() -> dict[str, list[int]]:
    return defaultdict(list)


@dataclass
class TermTable:
    """Every distinct query word of all rules, and the cache from article words to them."""

    #: per language: base → (term, allowed suffixes), exact form → terms, prefix → terms
    stems: dict[str, _Stems] = field(default_factory=lambda: defaultdict(_stems))
    exact: dict[str, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(_ids))
    prefixes: dict[str, dict[str, list[int]]] = field(default_factory=lambda: defaultdict(_ids))
    _ids: dict[tuple[str, str], int] = field(default_factory=dict)
    _cache: dict[str | None, dict[str, frozenset[int]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    cache_limit: int = 500_000

    def __len__(self) -> int:
        return len(self._ids)

    def weights(self) -> dict[int, int]:
        """A rarity guess per term (longer words are rarer), to choose rules' anchors."""
        return {term_id: len(key) for (_, key), term_id in self._ids.items()}

    def _id(self, kind: str, key: str) -> tuple[int, bool]:
        existing = self._ids.get((kind, key))
        if existing is not None:
            return existing, False
        term_id = self._ids[(kind, key)] = len(self._ids)
        return term_id, True

    def word(self, word: str) -> int:
        key = fold(word)
        term_id, new = self._id("word", key)
        if new:
            for analyser in analysers_of_script(script_of(key)):
                for base, suffixes in analyser.bases(key):
                    self.stems[analyser.lang][base].append((term_id, suffixes))
        return term_id

    def exact_word(self, word: str) -> int:
        key = fold(word)
        term_id, new = self._id("exact", key)
        if new:
            for analyser in analysers_of_script(script_of(key)):
                self.exact[analyser.lang][analyser.query_key(key)].append(term_id)
        return term_id

    def prefix(self, stem: str) -> int:
        key = fold(stem)
        term_id, new = self._id("prefix", key)
        if new:
            for analyser in analysers_of_script(script_of(key)):
                self.prefixes[analyser.lang][analyser.query_key(key)].append(term_id)
        return term_id

    def terms_of_all(self, tokens: set[str], lang: str | None = None) -> frozenset[int]:
        """Ids of every term any of `tokens` (folded words of a text in `lang`) matches: the
        per-article hot path."""
        cache = self._cache[lang]
        for token in tokens - cache.keys():
            self.terms_of(token, lang)
        try:
            return frozenset().union(*map(cache.__getitem__, tokens))
        except KeyError:  # the cache was cleared while filling it: rare, slow path
            return frozenset().union(*(self.terms_of(t, lang) for t in tokens))

    def terms_of(self, token: str, lang: str | None = None) -> frozenset[int]:
        """Ids of every term the folded article word `token` matches (cached per language)."""
        cache = self._cache[lang]
        cached = cache.get(token)
        if cached is not None:
            return cached
        analyser = analyser_for(lang, token)
        stems = self.stems.get(analyser.lang, {})
        exact = self.exact.get(analyser.lang, {})
        prefixes = self.prefixes.get(analyser.lang, {})
        found: set[int] = set()
        for variant in analyser.variants(token):
            found.update(exact.get(variant, ()))
            for base, suffix in analyser.splits(variant):
                for term_id, allowed in stems.get(base, ()):
                    if allowed is STEMMED or suffix in allowed:
                        found.add(term_id)
            if prefixes:
                for end in range(MIN_PREFIX, len(variant) + 1):
                    found.update(prefixes.get(variant[:end], ()))
        result = frozenset(found)
        if len(cache) >= self.cache_limit:
            cache.clear()
        cache[token] = result
        return result
