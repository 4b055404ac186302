"""Keyword and phrase matching over normalised tokens.

Every keyword of every rule is indexed by its first token form, so an article is scanned once
whatever the number of rules: each word looks up the phrases that can start there and checks
their remaining words. `build_matcher` is the only constructor the service layer uses; the query
language of later releases replaces this module behind the same `ArticleMatcher` protocol.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from detect.model import Alert, ArticleRef, Field_, Match, alert_id
from detect.normalize import Token, term_tokens, tokenize
from detect.watchlist import Rule, Watchlist
from ingest.model import Article


class ArticleMatcher(Protocol):
    """What the detect service needs from a matching engine."""

    def match(self, article: Article, *, now: datetime | None = None) -> list[Alert]: ...


@dataclass(frozen=True, slots=True)
class _Phrase:
    rule_index: int
    words: tuple[str, ...]
    veto: bool  # an `exclude` phrase rather than a keyword


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    watchlist: Watchlist
    rule: Rule


def _find(tokens: list[Token], index: dict[str, list[_Phrase]]) -> list[tuple[_Phrase, int, int]]:
    """Every (phrase, first token, last token) occurrence in `tokens`."""
    found = []
    for i, token in enumerate(tokens):
        for form in token.forms:
            for phrase in index.get(form, ()):
                last = i + len(phrase.words) - 1
                if last >= len(tokens):
                    continue
                if all(w in tokens[i + k].forms for k, w in enumerate(phrase.words[1:], 1)):
                    found.append((phrase, i, last))
    return found


class KeywordMatcher:
    """Matches rules' keywords and phrases; see `detect.normalize` for what a term matches."""

    def __init__(self, watchlists: Sequence[Watchlist]) -> None:
        self._rules: list[_CompiledRule] = []
        self._index: dict[str, list[_Phrase]] = defaultdict(list)
        for watchlist in watchlists:
            for rule in watchlist.rules:
                rule_index = len(self._rules)
                self._rules.append(_CompiledRule(watchlist, rule))
                for terms, veto in ((rule.keywords, False), (rule.exclude, True)):
                    for term in terms:
                        words = term_tokens(term)
                        self._index[words[0]].append(_Phrase(rule_index, words, veto))

    @property
    def rule_count(self) -> int:
        return len(self._rules)

    def match(self, article: Article, *, now: datetime | None = None) -> list[Alert]:
        """Alerts for every rule that fires on `article`, in watchlist and rule order."""
        hits: dict[int, list[Match]] = defaultdict(list)
        vetoed: set[int] = set()
        fields: tuple[tuple[Field_, str], ...] = (("title", article.title), ("text", article.text))
        for field, text in fields:
            if not text:
                continue
            tokens = tokenize(text)
            for phrase, first, last in _find(tokens, self._index):
                compiled = self._rules[phrase.rule_index]
                if field not in compiled.rule.fields:
                    continue
                if phrase.veto:
                    vetoed.add(phrase.rule_index)
                    continue
                start, end = tokens[first].start, tokens[last].end
                hits[phrase.rule_index].append(
                    Match(text=text[start:end], field=field, start=start, end=end)
                )
        detected_at = now or datetime.now(UTC)
        alerts = []
        for rule_index in sorted(hits.keys() - vetoed):
            compiled = self._rules[rule_index]
            languages = compiled.watchlist.languages
            if languages and article.lang and article.lang not in languages:
                continue
            alerts.append(self._alert(compiled, article, hits[rule_index], detected_at))
        return alerts

    @staticmethod
    def _alert(
        compiled: _CompiledRule, article: Article, matches: list[Match], detected_at: datetime
    ) -> Alert:
        story_id = article.story_id or article.id
        unique = sorted(set(matches), key=lambda m: (m.field != "title", m.start, m.end))
        return Alert(
            id=alert_id(compiled.watchlist.id, compiled.rule.id, story_id),
            watchlist=compiled.watchlist.id,
            rule=compiled.rule.id,
            event=compiled.rule.event,
            severity=compiled.rule.severity,
            article=ArticleRef.of(article),
            matches=unique,
            story_id=story_id,
            detected_at=detected_at,
            ingested_at=article.ingested_at,
        )


def build_matcher(watchlists: Sequence[Watchlist]) -> ArticleMatcher:
    """The matcher for these watchlists (the service layer's only way to get one)."""
    return KeywordMatcher(watchlists)
