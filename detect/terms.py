"""Which article words a query word matches, and a cached index from words to terms.

What a query word matches (README "What a word matches" repeats this for analysts):
- every word is folded (`detect.normalize.fold`); an Arabic word in an article may also carry
  proclitics — و ف, ب ك ل, ال and their combinations (وبال، فلل …) — so هدنة matches وبالهدنة;
  a query word written with ال matches with or without it;
- a bare word (`violate`, `هدنة`) matches its light inflections:
  English: +s, +es, +ed, +ing, and for words ending in e or y (violate → violates, violated,
  violating; party → parties), with the final consonant doubled (cut → cutting);
  Arabic: the accusative ا (قصفًا), the suffixes ه ها هم هما هن ك كم نا ي ان ين ون ات يه يين,
  and for words ending in ة its ت forms (هدنة → هدنات، هدنتين، هدنته);
  other scripts: the word itself;
- a word inside quotes ("وقف إطلاق النار", "violated the ceasefire") matches only itself
  (folded, Arabic proclitics allowed): no inflections;
- `word*` matches every word that starts with `word` (after the proclitics).
"""

from collections import defaultdict
from dataclasses import dataclass, field

from detect.normalize import fold, is_arabic
from detect.query import MIN_PREFIX

_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ك", "ل")
MIN_STEM = 2  # shortest Arabic stem left once proclitics are removed


def _proclitics() -> tuple[str, ...]:
    prefixes = {c + p + a for c in _CONJUNCTIONS for p in _PREPOSITIONS for a in ("", "ال")}
    prefixes |= {c + "لل" for c in _CONJUNCTIONS}  # ل + ال is written لل
    prefixes.discard("")
    return tuple(sorted(prefixes, key=len))


PROCLITICS = _proclitics()
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
EN_SUFFIXES = frozenset({"", "s", "es", "ed", "ing"})
ALL_SUFFIXES = tuple(
    sorted(
        AR_SUFFIXES
        | {"ت" + s for s in AR_TA_SUFFIXES}
        | EN_SUFFIXES
        | {"ies", "ied", "e", "ing", "ed"}
        | {c + s for c in "bdfgklmnprstvz" for s in ("ing", "ed")},
        key=len,
    )
)


def strip_article(word: str) -> str:
    """A query word without its Arabic definite article (الهدنة → هدنه)."""
    if word.startswith("ال") and len(word) - 2 >= MIN_STEM and is_arabic(word):
        return word[2:]
    return word


def inflections(word: str) -> list[tuple[str, frozenset[str]]]:
    """(base, allowed suffixes) pairs: the word matches base + any allowed suffix."""
    if is_arabic(word):
        if word.endswith("ه") and len(word) > MIN_STEM:  # ة: هدنه, هدنات, هدنتين
            return [(word[:-1], frozenset({"ه", "ات"} | {"ت" + s for s in AR_TA_SUFFIXES}))]
        return [(word, AR_SUFFIXES)]
    if not word.isascii():
        return [(word, frozenset({""}))]
    forms = [(word, EN_SUFFIXES)]
    if word.endswith("e") and len(word) > 2:
        forms.append((word[:-1], frozenset({"ing", "ed"})))
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        forms.append((word[:-1], frozenset({"ies", "ied"})))
    if word[-1] in "bdfgklmnprstvz" and len(word) > 2 and word[-2] in "aeiou":
        forms.append((word, frozenset({word[-1] + "ing", word[-1] + "ed"})))
    return forms


def text_variants(token: str) -> tuple[str, ...]:
    """A folded article word and its stems without proclitics."""
    if not is_arabic(token):
        return (token,)
    out = [token]
    for prefix in PROCLITICS:
        if token.startswith(prefix) and len(token) - len(prefix) >= MIN_STEM:
            out.append(token[len(prefix) :])
    return tuple(out)


@dataclass
class TermTable:
    """Every distinct query word of all rules, and the cache from article words to them."""

    exact: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    stems: dict[str, list[tuple[int, frozenset[str]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    prefixes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    _ids: dict[tuple[str, str], int] = field(default_factory=dict)
    _cache: dict[str, frozenset[int]] = field(default_factory=dict)
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
        key = strip_article(fold(word))
        term_id, new = self._id("word", key)
        if new:
            for base, suffixes in inflections(key):
                self.stems[base].append((term_id, suffixes))
        return term_id

    def exact_word(self, word: str) -> int:
        key = strip_article(fold(word))
        term_id, new = self._id("exact", key)
        if new:
            self.exact[key].append(term_id)
        return term_id

    def prefix(self, stem: str) -> int:
        key = strip_article(fold(stem))
        term_id, new = self._id("prefix", key)
        if new:
            self.prefixes[key].append(term_id)
        return term_id

    def terms_of_all(self, tokens: set[str]) -> frozenset[int]:
        """Ids of every term any of `tokens` matches (the per-article hot path)."""
        cache = self._cache
        for token in tokens - cache.keys():
            self.terms_of(token)
        try:
            return frozenset().union(*map(cache.__getitem__, tokens))
        except KeyError:  # the cache was cleared while filling it: rare, slow path
            return frozenset().union(*map(self.terms_of, tokens))

    def terms_of(self, token: str) -> frozenset[int]:
        """Ids of every term the folded article word `token` matches (cached)."""
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        found: set[int] = set()
        for variant in text_variants(token):
            found.update(self.exact.get(variant, ()))
            for suffix in ALL_SUFFIXES:
                if len(suffix) >= len(variant):
                    break
                if variant.endswith(suffix):
                    base = variant[: len(variant) - len(suffix)] if suffix else variant
                    for term_id, allowed in self.stems.get(base, ()):
                        if suffix in allowed:
                            found.add(term_id)
            for end in range(MIN_PREFIX, len(variant) + 1):
                found.update(self.prefixes.get(variant[:end], ()))
        result = frozenset(found)
        if len(self._cache) >= self.cache_limit:
            self._cache.clear()
        self._cache[token] = result
        return result
