"""Match articles against many rules at once, the way Lucene Monitor (Luwak) does.

Compile time: every query word becomes a term in one `TermTable`; each rule is indexed under a
few *anchor* terms, at least one of which must occur in any article the rule can match.
Match time: each field is folded and split into words once; each distinct word is looked up
(cached) to the terms it matches; the rules anchored on those terms are the candidates, and only
they are evaluated — Boolean logic on term presence first, word positions (phrases, NEAR) only
for the survivors. Regex rules run through one RE2 set, so no pattern can take more than linear
time. `build_matcher` is the only constructor the service layer uses.
"""

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from itertools import chain
from typing import Protocol

import re2

from detect import query as q
from detect.actors import Gazetteer, shipped_gazetteer
from detect.classifier import MODEL_PATH, EventClassifier, story_vector
from detect.frames import PREFILTER, read_sentences
from detect.lexicon import CueTable
from detect.model import ActorRef, Alert, ArticleRef, Field_, Match, alert_id
from detect.terms import TermTable
from detect.verdict import Reading, Verdict, decide_frame, query_verdict
from detect.watchlist import Rule, Watchlist
from ingest.model import Article
from text.fold import WORD_RE, FoldedText

FIELDS: tuple[Field_, ...] = ("title", "text")
MAX_SPANS = 20  # matched spans reported per alert


class ArticleMatcher(Protocol):
    """What the detect service needs from a matching engine."""

    @property
    def rule_count(self) -> int: ...

    def match(self, article: Article, *, now: datetime | None = None) -> list[Alert]: ...


# ---- compiled query nodes -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    term: int


@dataclass(frozen=True, slots=True)
class _Phrase:
    terms: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _And:
    children: tuple["_Node", ...]


@dataclass(frozen=True, slots=True)
class _Or:
    children: tuple["_Node", ...]


@dataclass(frozen=True, slots=True)
class _Not:
    child: "_Node"


@dataclass(frozen=True, slots=True)
class _Near:
    left: "_Node"
    right: "_Node"
    distance: int
    ordered: bool


@dataclass(frozen=True, slots=True)
class _Scope:
    fields: tuple[Field_, ...]
    child: "_Node"


@dataclass(frozen=True, slots=True)
class _Meta:
    key: str
    value: str


_Node = _Term | _Phrase | _And | _Or | _Not | _Near | _Scope | _Meta
Span = tuple[Field_, int, int]  # field, first word index, last word index


def _compile(node: q.Node, terms: TermTable) -> _Node:
    if isinstance(node, q.Meta) and node.key == "country":  # any name of the country or group
        names = sorted(shipped_gazetteer().aliases[node.value])
        words = [WORD_RE.findall(name) for name in names]
        return _Or(
            tuple(
                _Term(terms.word(ws[0])) if len(ws) == 1 else _Phrase(tuple(map(terms.word, ws)))
                for ws in words
                if ws
            )
        )
    if isinstance(node, q.Term):
        return _Term(terms.word(node.word))
    if isinstance(node, q.Prefix):
        return _Term(terms.prefix(node.stem))
    if isinstance(node, q.Phrase):
        ids = tuple(terms.exact_word(w) for w in node.words)
        return _Term(ids[0]) if len(ids) == 1 else _Phrase(ids)
    if isinstance(node, q.And):
        return _And(tuple(_compile(c, terms) for c in node.children))
    if isinstance(node, q.Or):
        return _Or(tuple(_compile(c, terms) for c in node.children))
    if isinstance(node, q.Not):
        return _Not(_compile(node.child, terms))
    if isinstance(node, q.Near):
        return _Near(
            _compile(node.left, terms), _compile(node.right, terms), node.distance, node.ordered
        )
    if isinstance(node, q.FieldScope):
        return _Scope((node.field,), _compile(node.child, terms))
    return _Meta(node.key, node.value)


def _clauses(node: _Node) -> list[frozenset[int]]:
    """Necessary conditions of `node`, as a conjunction of term sets of which each must meet
    the article's terms (CNF). Checked with C-speed set operations before any evaluation."""
    if isinstance(node, _Term):
        return [frozenset({node.term})]
    if isinstance(node, _Phrase):
        return [frozenset({t}) for t in node.terms]
    if isinstance(node, _And):
        return [c for child in node.children for c in _clauses(child)]
    if isinstance(node, _Near):
        return _clauses(node.left) + _clauses(node.right)
    if isinstance(node, _Or):
        per_child = [_clauses(c) for c in node.children]
        if not all(per_child):
            return []
        return [frozenset().union(*(min(c, key=len) for c in per_child))]
    if isinstance(node, _Scope):
        return _clauses(node.child)
    return []  # NOT and metadata tests require no term


def _anchor(
    clauses: tuple[frozenset[int], ...], cost: Callable[[int], float]
) -> frozenset[int] | None:
    """The clause to index the rule under: the one whose terms are expected rarest."""
    if not clauses:
        return None
    return min(clauses, key=lambda c: sum(cost(t) for t in c))


# ---- one article, as the evaluator sees it --------------------------------------------------


@dataclass
class _Field:
    text: FoldedText
    terms: TermTable
    lang: str | None
    words: list[str]
    hits: frozenset[int]
    _positions: dict[int, list[int]] | None = None
    _offsets: list[tuple[int, int]] | None = None

    @classmethod
    def of(cls, raw: str, terms: TermTable, lang: str | None) -> "_Field":
        text = FoldedText.of(raw)
        words = WORD_RE.findall(text.folded)
        return cls(text, terms, lang, words, terms.terms_of_all(set(words), lang))

    def positions(self, term: int) -> list[int]:
        """Word indexes where `term` occurs (built once per field, on first need)."""
        if self._positions is None:
            matching = {w: ts for w in set(self.words) if (ts := self.terms.terms_of(w, self.lang))}
            positions: dict[int, list[int]] = defaultdict(list)
            for index, word in enumerate(self.words):
                if word in matching:
                    for t in matching[word]:
                        positions[t].append(index)
            self._positions = positions
        return self._positions.get(term, [])

    def word_offsets(self) -> list[tuple[int, int]]:
        """(start, end) of every word in the folded text."""
        if self._offsets is None:
            self._offsets = [m.span() for m in WORD_RE.finditer(self.text.folded)]
        return self._offsets

    def match(self, name: Field_, first: int, last: int) -> Match:
        offsets = self.word_offsets()
        start, end = self.text.original_span(offsets[first][0], offsets[last][1])
        return Match(text=self.text.original[start:end], field=name, start=start, end=end)


@dataclass
class _Doc:
    fields: dict[Field_, _Field]
    lang: str | None
    source: str

    def meta(self, key: str, value: str) -> bool:
        if key == "lang":
            return self.lang == value
        return self.source.lower() == value


def _eval(node: _Node, doc: _Doc, fields: tuple[Field_, ...]) -> list[Span] | None:
    """Spans that make `node` true, or None when it is false ([] : true without words)."""
    if isinstance(node, _Term):
        spans = [(f, p, p) for f in fields for p in doc.fields[f].positions(node.term)]
        return spans or None
    if isinstance(node, _Phrase):
        spans = []
        for f in fields:
            field_ = doc.fields[f]
            later = [set(field_.positions(t)) for t in node.terms[1:]]
            for p in field_.positions(node.terms[0]):
                if all(p + k in s for k, s in enumerate(later, 1)):
                    spans.append((f, p, p + len(node.terms) - 1))
        return spans or None
    if isinstance(node, _And):
        collected: list[Span] = []
        for child in node.children:
            result = _eval(child, doc, fields)
            if result is None:
                return None
            collected += result
        return collected
    if isinstance(node, _Or):
        results = [r for r in (_eval(c, doc, fields) for c in node.children) if r is not None]
        return [s for r in results for s in r] if results else None
    if isinstance(node, _Not):
        return [] if _eval(node.child, doc, fields) is None else None
    if isinstance(node, _Near):
        left = _eval(node.left, doc, fields)
        right = _eval(node.right, doc, fields) if left else None
        if not left or not right:
            return None
        return _minimal(_near_spans(left, right, node.distance, node.ordered)) or None
    if isinstance(node, _Scope):
        return _eval(node.child, doc, node.fields)
    return [] if doc.meta(node.key, node.value) else None


def _near_spans(left: list[Span], right: list[Span], distance: int, ordered: bool) -> set[Span]:
    """Joined spans of every left and right span at most `distance` words apart (right after
    left, or either side unless `ordered`), found by bisection: a text that repeats the two
    words ten thousand times costs n log n, not n squared."""
    by_start: dict[Field_, list[tuple[int, int]]] = defaultdict(list)
    for f, b0, b1 in right:
        by_start[f].append((b0, b1))
    by_end = {f: sorted(spans, key=lambda s: s[1]) for f, spans in by_start.items()}
    for spans in by_start.values():
        spans.sort()
    starts = {f: [b0 for b0, _ in spans] for f, spans in by_start.items()}
    ends = {f: [b1 for _, b1 in spans] for f, spans in by_end.items()}
    out: set[Span] = set()
    for f, a0, a1 in left:
        if f not in by_start:
            continue
        lo, hi = bisect_right(starts[f], a1), bisect_right(starts[f], a1 + distance)
        out.update((f, a0, max(a1, b1)) for _, b1 in by_start[f][lo:hi])  # right after left
        if not ordered:
            lo, hi = bisect_left(ends[f], a0 - distance), bisect_left(ends[f], a0)
            out.update((f, min(a0, b0), a1) for b0, _ in by_end[f][lo:hi])  # right before left
    return out


def _minimal(spans: set[Span]) -> list[Span]:
    """Drop spans that contain another one: report the tightest evidence. One sweep from the
    last start down, remembering the smallest end seen (n log n)."""
    kept: list[Span] = []
    smallest_end: dict[Field_, int] = {}
    for span in sorted(spans, key=lambda s: (s[0], -s[1], s[2])):
        f, _, end = span
        if end < smallest_end.get(f, end + 1):
            kept.append(span)
            smallest_end[f] = end
    return sorted(kept, key=lambda s: s[2] - s[1])


# ---- the matcher ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    watchlist: Watchlist
    rule: Rule
    node: _Node | None  # None for regex rules and frame rules without a query
    clauses: tuple[frozenset[int], ...] = ()
    regex: "re2._Regexp | None" = None

    @property
    def frame(self) -> str | None:
        return self.rule.frame


@dataclass
class QueryMatcher:
    """Matches every rule of `watchlists`; see the module docstring for how."""

    watchlists: Sequence[Watchlist]
    terms: TermTable = field(default_factory=TermTable)
    _rules: list[_Compiled] = field(default_factory=list)
    _by_anchor: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    _always: list[int] = field(default_factory=list)
    _regex_rules: list[int] = field(default_factory=list)
    _regex_set: "re2.Set | None" = None
    _document_frequency: Counter[int] = field(default_factory=Counter)
    _articles_seen: int = 0
    _next_reanchor: int = 256
    #: the second stage of frame rules; None: frames decide alone
    classifier: EventClassifier | None = None
    _cues: CueTable | None = None
    _frame_rules: list[int] = field(default_factory=list)  # frame rules without a query
    _prefilter: dict[str, tuple[frozenset[int], ...]] = field(default_factory=dict)
    #: names the countries and groups of an alert's evidence, with their roles
    gazetteer: Gazetteer | None = None

    def __post_init__(self) -> None:
        for watchlist in self.watchlists:
            for rule in watchlist.rules:
                node = _compile(q.parse_query(rule.query), self.terms) if rule.query else None
                regex = re2.compile(rule.regex, _re2_options()) if rule.regex else None
                clauses = tuple(_clauses(node)) if node is not None else ()
                self._rules.append(_Compiled(watchlist, rule, node, clauses, regex))
        self._regex_rules = [i for i, c in enumerate(self._rules) if c.regex is not None]
        if any(c.frame for c in self._rules):
            self._cues = CueTable.build(self.terms)
            self._index_prefilter(None)
            self._frame_rules = [i for i, c in enumerate(self._rules) if c.frame and c.node is None]
        weight = self.terms.weights()
        self._index_anchors(lambda term: 1.0 / weight[term])  # longer words: rarer, at first
        if self._regex_rules:
            regex_set = re2.Set.SearchSet(_re2_options())
            for index in self._regex_rules:
                pattern = self._rules[index].rule.regex
                assert pattern is not None
                regex_set.Add(pattern)
            regex_set.Compile()
            self._regex_set = regex_set

    def _index_anchors(self, cost: Callable[[int], float]) -> None:
        by_anchor: dict[int, list[int]] = defaultdict(list)
        always = []
        for index, compiled in enumerate(self._rules):
            if compiled.node is None:
                continue  # regex rules and frame rules without a query
            anchor = _anchor(compiled.clauses, cost)
            if anchor is None:
                always.append(index)
            else:
                for term in anchor:
                    by_anchor[term].append(index)
        self._by_anchor, self._always = by_anchor, always

    def _index_prefilter(self, cost: Callable[[int], float] | None) -> None:
        assert self._cues is not None
        self._prefilter = {
            event: tuple(self._cues.key_terms(group, cost) for group in groups)
            for event, groups in PREFILTER.items()
        }

    def _learn(self, present: frozenset[int]) -> None:
        """Count in how many articles each term occurs; re-choose anchors by that, at 256,
        512, 1024 … 65536 articles, so rules wait on their rarest terms (as Luwak does with
        index statistics). Which rules fire never depends on the anchors."""
        self._document_frequency.update(present)
        self._articles_seen += 1
        if self._articles_seen >= self._next_reanchor and self._next_reanchor <= 65536:
            self._next_reanchor *= 2
            df = self._document_frequency
            self._index_anchors(lambda term: df[term] + 0.5)
            if self._cues is not None:  # frame prefilters too wait on their rarest words
                self._index_prefilter(lambda term: df[term])

    @property
    def rule_count(self) -> int:
        return len(self._rules)

    def match(self, article: Article, *, now: datetime | None = None) -> list[Alert]:
        """Alerts for every rule that fires on `article`, in watchlist and rule order."""
        fields: dict[Field_, _Field] = {
            "title": _Field.of(article.title, self.terms, article.lang),
            "text": _Field.of(article.text, self.terms, article.lang),
        }
        doc = _Doc(fields, article.lang, article.source)
        present = fields["title"].hits | fields["text"].hits
        self._learn(present)
        by_anchor = self._by_anchor
        candidates = set(
            chain(self._always, *map(by_anchor.__getitem__, present & by_anchor.keys()))
        )
        fired: dict[int, list[Match]] = {}
        narrowed: dict[int, list[Match]] = {}  # frame rules whose query matched
        for index in candidates:
            compiled = self._rules[index]
            if not all(not clause.isdisjoint(present) for clause in compiled.clauses):
                continue
            if not self._language_ok(compiled, article):
                continue
            assert compiled.node is not None
            spans = _eval(compiled.node, doc, FIELDS)
            if spans is not None:
                found = [doc.fields[f].match(f, a, b) for f, a, b in spans[: MAX_SPANS * 2]]
                (narrowed if compiled.frame else fired)[index] = found
        if self._regex_set is not None:
            fired.update(self._match_regexes(article))
        texts: dict[Field_, str] = {"title": article.title, "text": article.text}
        verdicts = {
            index: query_verdict(
                self._rules[index].rule.event,
                sorted(set(found), key=_reading_order),
                "regex" if self._rules[index].regex is not None else "query",
                texts,
            )
            for index, found in fired.items()
        }
        if self._cues is not None:
            verdicts.update(self._frame_verdicts(article, fields, present, narrowed))
        if not verdicts:
            return []
        detected_at = now or datetime.now(UTC)
        ref = ArticleRef.of(article)  # shared by the article's alerts
        vector = None  # notify links alerts of one event type only: no type, no vector needed
        typed = [i for i in verdicts if self._rules[i].rule.event_type is not None]
        if typed and self.classifier is not None and self.classifier.encoder is not None:
            vector = story_vector(self.classifier.encoder, article.title, article.text)
        return [
            self._alert(self._rules[i], article, ref, verdicts[i], detected_at).model_copy(
                update={
                    "actors": self._actors(verdicts[i], article),
                    "vector": vector if self._rules[i].rule.event_type is not None else None,
                }
            )
            for i in sorted(verdicts)
        ]

    def _actors(self, verdict: Verdict, article: Article) -> list[ActorRef]:
        if self.gazetteer is None or verdict.evidence is None:
            return []
        parties = self.gazetteer.read(verdict.evidence.text, article.lang, verdict.event)
        return [
            ActorRef(id=p.entity.id, kind=p.entity.kind, name=p.entity.name, role=p.role)
            for p in parties
        ]

    def _frame_verdicts(
        self,
        article: Article,
        fields: dict[Field_, _Field],
        present: frozenset[int],
        narrowed: dict[int, list[Match]],
    ) -> dict[int, Verdict]:
        """Verdicts of the frame rules: frames find candidate sentences, the classifier
        decides, each rule applies its threshold."""
        assert self._cues is not None
        rules = [
            i
            for i in chain(self._frame_rules, narrowed)
            if self._language_ok(self._rules[i], article)
        ]
        events = {
            e
            for i in rules
            if (e := self._rules[i].frame)
            and all(not present.isdisjoint(group) for group in self._prefilter[e])
        }
        if not events:
            return {}
        reading = self._reading(article, fields, present)
        decided = {e: decide_frame(e, reading, self.classifier) for e in sorted(events)}
        out = {}
        for index in rules:
            compiled = self._rules[index]
            verdict = decided.get(compiled.frame or "")
            if verdict is None:
                continue
            threshold = compiled.rule.min_confidence
            if threshold is None:
                threshold = compiled.watchlist.min_confidence
            if threshold is None:
                threshold = verdict.threshold
            if verdict.confidence >= threshold:
                out[index] = replace(
                    verdict, matches=verdict.matches + tuple(narrowed.get(index, ()))
                )
        return out

    def _reading(
        self, article: Article, fields: dict[Field_, _Field], present: frozenset[int]
    ) -> Reading:
        assert self._cues is not None
        sentences = read_sentences(fields, self._cues, article.lang, present)  # type: ignore[arg-type]
        return Reading(fields, sentences)  # type: ignore[arg-type]

    def frame_reading(self, article: Article) -> Reading:
        """How the frame stage reads `article` (for training the classifier on the corpus)."""
        if self._cues is None:
            raise ValueError("this matcher has no frame rules")
        fields: dict[Field_, _Field] = {
            "title": _Field.of(article.title, self.terms, article.lang),
            "text": _Field.of(article.text, self.terms, article.lang),
        }
        return self._reading(article, fields, fields["title"].hits | fields["text"].hits)

    def _match_regexes(self, article: Article) -> dict[int, list[Match]]:
        assert self._regex_set is not None
        fired: dict[int, list[Match]] = defaultdict(list)
        texts: tuple[tuple[Field_, str], ...] = (("title", article.title), ("text", article.text))
        for name, text in texts:
            for set_index in (self._regex_set.Match(text) if text else None) or ():
                index = self._regex_rules[set_index]
                compiled = self._rules[index]
                if compiled.regex is None or not self._language_ok(compiled, article):
                    continue
                for m in compiled.regex.finditer(text):
                    if m.end() > m.start():
                        fired[index].append(
                            Match(
                                text=m.group(),
                                field=name,
                                start=m.start(),
                                end=m.end(),
                            )
                        )
                    if len(fired[index]) >= MAX_SPANS:
                        break
        return {i: spans for i, spans in fired.items() if spans}

    @staticmethod
    def _language_ok(compiled: _Compiled, article: Article) -> bool:
        languages = compiled.watchlist.languages
        return not (languages and article.lang and article.lang not in languages)

    @staticmethod
    def _alert(
        compiled: _Compiled,
        article: Article,
        ref: ArticleRef | None,
        verdict: Verdict,
        detected_at: datetime,
    ) -> Alert:
        story_id = article.story_id or article.id
        unique = sorted(set(verdict.matches), key=_reading_order)
        return Alert(
            id=alert_id(compiled.watchlist.id, compiled.rule.id, story_id),
            watchlist=compiled.watchlist.id,
            rule=compiled.rule.id,
            event=compiled.rule.event_type,
            severity=compiled.rule.severity,
            article=ref,
            matches=unique[:MAX_SPANS],
            confidence=verdict.confidence,
            evidence=verdict.evidence,
            stages=list(verdict.stages),
            story_id=story_id,
            detected_at=detected_at,
            ingested_at=article.ingested_at,
        )


def _reading_order(m: Match) -> tuple[bool, int, int]:
    return (m.field != "title", m.start, m.end)


def _re2_options() -> "re2.Options":
    options = re2.Options()
    options.log_errors = False
    return options


def build_matcher(
    watchlists: Sequence[Watchlist], *, classifier: EventClassifier | bool | None = True
) -> ArticleMatcher:
    """The matcher for these watchlists (the service layer's only way to get one). Frame rules
    use the shipped classifier unless `classifier` is False (frames alone) or another one."""
    if classifier is True:
        needs = any(rule.frame for watchlist in watchlists for rule in watchlist.rules)
        classifier = shipped_classifier() if needs and MODEL_PATH.exists() else None
    return QueryMatcher(watchlists, classifier=classifier or None, gazetteer=shipped_gazetteer())


@cache
def shipped_classifier() -> EventClassifier:
    """The shipped model, loaded and warmed once per process (a watchlist reload reuses it)."""
    classifier = EventClassifier.load()
    if classifier.encoder is not None:
        classifier.encoder.warm_up()
    return classifier
