"""Event frames: the five conflict events read inside one sentence, from cue lexicons.

A frame is a trigger and an object found near each other in a sentence (violate × truce;
cut/suspend/downgrade × relations, expel × ambassador; strike, shelling, rocket, drone; call,
agree, enter into force × truce), plus what the sentence says about it:
- **modality**: `realis`, or `threat` (threaten, warn, vow, does not rule out), `possible`
  (will, could, may, considering) or `conditional` (if, unless, any state that) when such a cue
  comes before the trigger;
- **polarity**: negated when a negation comes right before the trigger ("did not violate",
  "will not cut ties", "no air strikes");
- **time**: historical when the sentence is a back-reference ("years ago", "on this day",
  "which had cut ties").
`frame_hits` applies the frames' own verdict rules ("frames alone"); `sentence_features` turns
the same reading into the numbers the classifier (`detect.classifier`) weighs.

Pure functions over a matched article's fields: no I/O.
"""

import bisect
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from detect.lexicon import CueTable, Entry
from text.fold import FoldedText
from text.sentences import sentence_spans

EVENTS = (
    "ceasefire_violation",
    "threat_to_cut_relations",
    "relations_cut",
    "shelling_or_strike",
    "ceasefire_call_or_agreement",
)
Modality = Literal["realis", "threat", "possible", "conditional"]
Span = tuple[int, int]  # first and last word index in the field
FieldName = Literal["title", "text"]

#: Cue categories whose presence makes a sentence a candidate for an event.
TRIGGERS: dict[str, tuple[str, ...]] = {
    "ceasefire_violation": ("truce",),
    "threat_to_cut_relations": ("relations", "envoy"),
    "relations_cut": ("relations", "envoy"),
    "shelling_or_strike": ("strike_strong", "weapon"),
    "ceasefire_call_or_agreement": ("truce",),
}
_ACTS = ("cut", "downgrade", "expel", "close", "recall")
#: The article-level prefilter, checked on the matcher's term set before any sentence is read:
#: for each event, groups of cue categories of which the article must hold one of each group.
PREFILTER: dict[str, tuple[tuple[str, ...], ...]] = {
    "ceasefire_violation": (("truce",),),
    "threat_to_cut_relations": ((*_ACTS, "threat"), ("relations", "envoy", "ambassador")),
    "relations_cut": (_ACTS, ("relations", "envoy", "ambassador")),
    "shelling_or_strike": (("strike_strong", "weapon"), ("strike_strong", "strike_weak")),
    "ceasefire_call_or_agreement": (("truce",),),
}
#: Words between two cues for them to count as one phrase ("violated the ceasefire").
NEAR = 6


class MatchedField(Protocol):
    """What frames need of a field the matcher has analysed."""

    @property
    def text(self) -> FoldedText: ...

    def positions(self, term: int) -> list[int]: ...

    def word_offsets(self) -> list[tuple[int, int]]: ...


@dataclass
class Sentence:
    """One sentence of a field and the cues found in it."""

    field: FieldName
    index: int  # 0 for the title, then the text's sentences in order
    words: tuple[int, int]  # word indexes [first, end)
    chars: tuple[int, int]  # span in the original field text
    cues: dict[str, list[Span]] = dataclasses.field(default_factory=dict)

    def has(self, category: str) -> bool:
        return bool(self.cues.get(category))

    def get(self, category: str) -> list[Span]:
        return self.cues.get(category, [])


@dataclass(frozen=True)
class FrameHit:
    """A frame found in a sentence, with what the sentence says about it."""

    event: str
    sentence: Sentence
    trigger: Span
    modality: Modality
    negated: bool
    historical: bool

    @property
    def fires(self) -> bool:
        """The frames' own verdict: the event is reported as happening."""
        if self.negated or self.historical:
            return False
        if self.event == "threat_to_cut_relations":
            return self.modality != "realis"
        if self.event in ("relations_cut", "ceasefire_violation", "shelling_or_strike"):
            return self.modality == "realis"
        return True


# ---- reading the sentences ----------------------------------------------------------------


def _occurrences(
    starting: dict[int, list[tuple[str, Entry]]], f: MatchedField, present: frozenset[int]
) -> dict[str, list[Span]]:
    """Category → spans of its entries in field `f`, visiting only entries whose first term
    the article contains."""
    found: dict[str, set[Span]] = {}
    for first in present & starting.keys():
        starts = f.positions(first)
        if not starts:
            continue
        for category, entry in starting[first]:
            hits = starts
            if len(entry) > 1:
                later = [set(f.positions(t)) for t in entry[1:]]
                hits = [p for p in starts if all(p + k in s for k, s in enumerate(later, 1))]
            if hits:
                found.setdefault(category, set()).update((p, p + len(entry) - 1) for p in hits)
    return {category: sorted(spans) for category, spans in found.items()}


def read_sentences(
    fields: dict[FieldName, MatchedField],
    cues: CueTable,
    lang: str | None,
    present: frozenset[int],
) -> list[Sentence]:
    """Every sentence of the title and text that holds at least one cue, with its cues."""
    starting = cues.starting(lang)
    sentences: list[Sentence] = []
    for name in ("title", "text"):
        f = fields[name]
        found = _occurrences(starting, f, present)
        if not found:
            continue
        if name == "title":
            bounds = [(0, len(f.text.original))]
        else:
            bounds = sentence_spans(f.text.original)
        starts = [s for s, _ in f.word_offsets()]
        ranges = []  # (first word, end word, number, chars) of each non-empty sentence
        for number, (char_start, char_end) in enumerate(bounds, 0 if name == "title" else 1):
            first = bisect.bisect_left(starts, f.text.folded_offset(char_start))
            end = bisect.bisect_left(starts, f.text.folded_offset(char_end))
            if first < end:
                ranges.append((first, end, number, (char_start, char_end)))
        firsts = [r[0] for r in ranges]
        cues_of: dict[int, dict[str, list[Span]]] = {}
        for category, spans in found.items():  # each span to its sentence, by bisection
            for span in spans:
                i = bisect.bisect_right(firsts, span[0]) - 1
                if i >= 0 and span[0] < ranges[i][1]:
                    cues_of.setdefault(i, {}).setdefault(category, []).append(span)
        for i in sorted(cues_of):
            first, end, number, chars = ranges[i]
            sentences.append(Sentence(name, number, (first, end), chars, cues_of[i]))
    return sentences


# ---- relations between cues ----------------------------------------------------------------


def _near(a: list[Span], b: list[Span], distance: int = NEAR) -> list[Span]:
    """Spans of `a` with a span of `b` at most `distance` words away (either side)."""
    return [x for x in a if any(y[0] - x[1] <= distance and x[0] - y[1] <= distance for y in b)]


def _before(cue: list[Span], target: Span, distance: int) -> bool:
    """A `cue` span ends within `distance` words before `target` starts."""
    return any(0 <= target[0] - c[1] <= distance for c in cue)


def _inside(span: Span, others: list[Span]) -> bool:
    return any(o[0] <= span[0] and span[1] <= o[1] and o != span for o in others)


def _within(cue: list[Span], target: Span, distance: int) -> bool:
    """A `cue` span at most `distance` words from `target`, on either side."""
    return any(target[0] - c[1] <= distance and c[0] - target[1] <= distance for c in cue)


def _modality(s: Sentence, trigger: Span, reach: int = 15) -> Modality:
    # threats and conditions are often said after the act: "breaking off relations is not
    # ruled out", "will cut ties with any state that ..."
    if _within(s.get("threat"), trigger, reach):
        return "threat"
    if _within(s.get("condition"), trigger, reach):
        return "conditional"
    if _within(s.get("modal"), trigger, min(reach, 8)):
        return "possible"
    return "realis"


def _negated(s: Sentence, trigger: Span) -> bool:
    return (
        _before(s.get("negation"), trigger, 2)
        or _before(s.get("deny"), trigger, 6)
        or _before(s.get("no_intent"), trigger, 8)
    )


#: How far from its trigger a threat, condition or modal cue still governs it: a threat to
#: cut ties spans the sentence, a strike is "threatened" only by the words right before it.
REACH = {"shelling_or_strike": 4}


def _hit(event: str, s: Sentence, trigger: Span) -> FrameHit:
    return FrameHit(
        event,
        s,
        trigger,
        _modality(s, trigger, REACH.get(event, 15)),
        _negated(s, trigger),
        s.has("history"),
    )


# ---- the five frames -----------------------------------------------------------------------


def _truces(s: Sentence) -> list[Span]:
    """The sentence's truces, but not a trade truce or a ceasefire in a price war."""
    return [t for t in s.get("truce") if not _near([t], s.get("metaphor"), 5)]


def is_candidate(event: str, s: Sentence) -> bool:
    """Whether the classifier reads `s` for `event`: it holds one of the event's trigger
    cues (a real truce, for the ceasefire events)."""
    if event in ("ceasefire_violation", "ceasefire_call_or_agreement"):
        return bool(_truces(s))
    if event == "shelling_or_strike":
        return bool(_strikes(s)) or s.has("weapon")
    objects = s.has("relations") or s.has("envoy") or s.has("ambassador")
    acts = any(s.has(c) for c in (*_ACTS, "threat", "diplomatic"))
    return objects and acts


def _violation(s: Sentence) -> FrameHit | None:
    truce = _truces(s)
    if not truce:
        return None
    objects = truce + s.get("terms")  # "violating the terms of the agreement"
    violations = [
        v
        for v in _near(s.get("violate"), objects)  # "no violations", «لم تسجل أي خروقات»
        if not (_before(s.get("negation"), v, 3) or _inside(v, s.get("hold")))
    ]
    if violations:
        return _hit("ceasefire_violation", s, violations[0])
    attacks = _strikes(s) + s.get("fighting")
    if not attacks:
        return None
    for cue, distance in (("despite", 4), ("during", 4), ("after", 6)):
        found = _near(s.get(cue), truce, distance)
        if found and (cue != "after" or not s.has("expire")):
            return _hit("ceasefire_violation", s, found[0])
    return None


def _strikes(s: Sentence) -> list[Span]:
    false = s.get("strike_false")
    strong = [x for x in s.get("strike_strong") if not _near([x], false, 0)]
    weak = [x for x in _near(s.get("strike_weak"), s.get("weapon"), 3) if not _near([x], false, 0)]
    return sorted(strong + weak)


def _strike(s: Sentence) -> FrameHit | None:
    strikes = _strikes(s)
    if not strikes:
        return None
    for x in strikes:
        hit = _hit("shelling_or_strike", s, x)
        if not hit.negated:
            return hit
    return _hit("shelling_or_strike", s, strikes[0])


def _rupture(s: Sentence, threat: bool) -> Span | None:
    """Where the sentence speaks of ending diplomatic relations: relations cut, suspended or
    downgraded, the ambassador expelled, the embassy closed; for a threat also the recall of
    an envoy (a recall alone is a protest, not a rupture)."""
    if s.has("business") and not (s.has("diplomatic") or s.has("envoy")):
        return None
    relations = [
        r for r in s.get("relations") if s.has("diplomatic") or not _near([r], s.get("economic"), 2)
    ]
    for cue in ("cut", "downgrade"):
        found = _near(s.get(cue), relations, 6)
        if found:
            return found[0]
    expelled = s.get("envoy") + s.get("ambassador") if threat else s.get("ambassador")
    for cue, objects in (
        ("expel", expelled),
        ("downgrade", s.get("envoy")),
        ("close", s.get("envoy")),
    ):
        found = _near(s.get(cue), objects, 5)
        if found:
            return found[0]
    recall = _near(s.get("recall"), s.get("envoy"), 4)
    if threat and recall and not s.has("consult"):
        return recall[0]
    return None


def _threat(s: Sentence) -> FrameHit | None:
    trigger = _rupture(s, threat=True)
    return None if trigger is None else _hit("threat_to_cut_relations", s, trigger)


def _cut(s: Sentence) -> FrameHit | None:
    trigger = _rupture(s, threat=False)
    if trigger is None:
        return None
    hit = _hit("relations_cut", s, trigger)
    if _near(s.get("restore"), [trigger], 6):
        return FrameHit(hit.event, s, trigger, hit.modality, True, hit.historical)
    return hit


def _agreement(s: Sentence) -> FrameHit | None:
    truce = _truces(s)
    if not truce:
        return None
    # "committed to the truce" alone is a claim, not a call: respect counts with a call
    for cue, distance in (("call", 12), ("agree", 6), ("entry", 6)):
        found = _near(s.get(cue), truce, distance)
        if found:
            hit = _hit("ceasefire_call_or_agreement", s, found[0])
            if cue == "call" or not hit.negated:
                return FrameHit(hit.event, s, found[0], "realis", hit.negated, hit.historical)
    return None


FRAMES: dict[str, Callable[[Sentence], FrameHit | None]] = {
    "ceasefire_violation": _violation,
    "threat_to_cut_relations": _threat,
    "relations_cut": _cut,
    "shelling_or_strike": _strike,
    "ceasefire_call_or_agreement": _agreement,
}


def frame_hits(sentences: Sequence[Sentence], event: str) -> list[FrameHit]:
    """Every sentence's frame for `event` (fired or not: the classifier sees both)."""
    frame = FRAMES[event]
    return [hit for s in sentences if (hit := frame(s)) is not None]


# ---- features for the classifier -----------------------------------------------------------

CATEGORIES = (
    "truce", "violate", "accuse", "despite", "after", "during", "entry", "expire", "hold",
    "terms", "fighting", "strike_strong", "weapon", "strike_weak", "strike_false", "relations",
    "diplomatic", "economic", "cut", "downgrade", "expel", "envoy", "ambassador", "recall",
    "close", "threat", "modal", "condition", "negation", "no_intent", "deny", "history",
    "restore", "summon", "consult", "call", "agree", "respect", "business", "metaphor",
)  # fmt: skip
_PAIRS = (
    ("violate", "truce"), ("violate", "terms"), ("despite", "truce"), ("during", "truce"),
    ("after", "truce"), ("entry", "truce"), ("fighting", "truce"), ("expel", "ambassador"),
    ("economic", "relations"), ("threat", "relations"), ("modal", "relations"),
    ("expire", "truce"), ("hold", "truce"), ("call", "truce"), ("agree", "truce"),
    ("respect", "truce"), ("accuse", "violate"), ("cut", "relations"),
    ("downgrade", "relations"), ("expel", "envoy"), ("recall", "envoy"), ("close", "envoy"),
    ("summon", "envoy"), ("restore", "relations"), ("threat", "cut"), ("modal", "cut"),
    ("negation", "cut"), ("negation", "strike_strong"), ("deny", "strike_strong"),
    ("weapon", "strike_weak"), ("metaphor", "truce"), ("business", "relations"),
)  # fmt: skip
FEATURES: tuple[str, ...] = (
    tuple(f"has:{c}" for c in CATEGORIES)
    + tuple(f"near:{a}+{b}" for a, b in _PAIRS)
    + tuple(f"frame:{e}" for e in EVENTS)
    + tuple(f"fires:{e}" for e in EVENTS)
    + tuple(f"modality:{m}" for m in ("threat", "possible", "conditional"))
    + ("negated", "historical", "is_title", "title_has:truce", "title_has:relations")
)


def sentence_features(
    s: Sentence, event: str, hit: FrameHit | None, title: Sentence | None
) -> list[float]:
    """The numbers the classifier weighs for `event` in sentence `s` (order: `FEATURES`)."""
    values = [float(s.has(c)) for c in CATEGORIES]
    cues = {c: s.get(c) for c in {x for pair in _PAIRS for x in pair}}
    cues["violate"] = [  # "no violations", «لم تسجل أي خروقات»: not a violation cue
        v
        for v in cues["violate"]
        if not (_before(s.get("negation"), v, 3) or _inside(v, s.get("hold")))
    ]
    values += [float(bool(_near(cues[a], cues[b]))) for a, b in _PAIRS]
    hits = {e: FRAMES[e](s) for e in EVENTS}
    values += [float(hits[e] is not None) for e in EVENTS]
    values += [float(hits[e] is not None and hits[e].fires) for e in EVENTS]  # type: ignore[union-attr]
    modality = hit.modality if hit else "realis"
    values += [float(modality == m) for m in ("threat", "possible", "conditional")]
    values += [
        float(bool(hit and hit.negated)),
        float(bool(hit and hit.historical)),
        float(s.field == "title"),
        float(bool(title and title.has("truce"))),
        float(bool(title and title.has("relations"))),
    ]
    return values
