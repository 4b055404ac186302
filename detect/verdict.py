"""The verdict step: from candidates (rules and frames that fired) to what an alert says.

The matcher finds candidates: Boolean and regex rules with their spans, and, for frame rules,
the sentences whose cues make them candidates for an event. A verdict decides the event, its
confidence and the evidence sentence; an `Alert` is built only from a verdict.
- a query or regex rule is its own verdict: confidence 1, evidence the sentence of its first
  match, stages `query` or `regex`;
- a frame rule's verdict comes from the classifier (`detect.classifier`) over the candidate
  sentences: the most probable one is the evidence, its calibrated probability the confidence,
  stages `frame`, `classifier`; without a trained model the frames decide alone (`frame`).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from detect.classifier import EventClassifier
from detect.frames import (
    FRAMES,
    TRIGGERS,
    FieldName,
    FrameHit,
    MatchedField,
    Sentence,
    Span,
    sentence_features,
)
from detect.model import Match, Stage
from text.sentences import sentence_spans

if TYPE_CHECKING:
    import numpy as np

#: Candidate sentences the classifier reads per event and article: the title and the lead
#: carry the news, and a long article must not cost more than a short one.
MAX_CANDIDATES = 8


class SpanningField(MatchedField, Protocol):
    def match(self, name: FieldName, first: int, last: int) -> Match: ...


@dataclass(frozen=True)
class Verdict:
    """What an alert will say: event, confidence, evidence, the spans, who decided."""

    event: str | None
    confidence: float
    evidence: Match | None
    matches: tuple[Match, ...]
    stages: tuple[Stage, ...]
    threshold: float = 0.0  # the model's own threshold, for rules that set none


def sentence_of(text: str, field_name: FieldName, offset: int) -> Match:
    """The sentence of `text` (a title or text field) that contains character `offset`."""
    for start, end in sentence_spans(text) if field_name == "text" else [(0, len(text))]:
        if start <= offset < end:
            return Match(text=text[start:end], field=field_name, start=start, end=end)
    return Match(text=text, field=field_name, start=0, end=len(text))


def query_verdict(
    event: str | None, matches: Sequence[Match], stage: Stage, texts: dict[FieldName, str]
) -> Verdict:
    """A Boolean or regex rule decides alone; its evidence is its first match's sentence."""
    evidence = None
    if matches:
        first = matches[0]
        evidence = sentence_of(texts[first.field], first.field, first.start)
    return Verdict(event, 1.0, evidence, tuple(matches), (stage,))


@dataclass
class Reading:
    """An article as the frame stage reads it: its cue-bearing sentences and, once computed,
    their embeddings (shared by every event's classifier)."""

    fields: dict[FieldName, SpanningField]
    sentences: list[Sentence]
    _vectors: dict[tuple[FieldName, int], "np.ndarray"] = field(default_factory=dict)

    @property
    def title(self) -> Sentence | None:
        return next((s for s in self.sentences if s.field == "title"), None)

    def text_of(self, s: Sentence) -> str:
        return self.fields[s.field].text.original[s.chars[0] : s.chars[1]]

    def evidence(self, s: Sentence) -> Match:
        start, end = s.chars
        return Match(text=self.text_of(s), field=s.field, start=start, end=end)

    def spans(self, s: Sentence, categories: Sequence[str]) -> tuple[Match, ...]:
        found: list[Span] = sorted({x for c in categories for x in s.get(c)})
        f = self.fields[s.field]
        return tuple(f.match(s.field, a, b) for a, b in found[:6])

    def embeddings(
        self, sentences: Sequence[Sentence], classifier: EventClassifier
    ) -> "np.ndarray":
        import numpy as np

        if classifier.encoder is None:
            return np.zeros((len(sentences), 0), dtype=np.float32)
        missing = [s for s in sentences if (s.field, s.index) not in self._vectors]
        if missing:
            vectors = classifier.encoder.encode([self.text_of(s) for s in missing])
            for s, v in zip(missing, vectors, strict=True):
                self._vectors[(s.field, s.index)] = v
        return np.vstack([self._vectors[(s.field, s.index)] for s in sentences])


#: Cue categories shown as an alert's matched spans, per event: trigger and object.
SHOWN: dict[str, tuple[str, ...]] = {
    "ceasefire_violation": ("violate", "truce", "despite"),
    "threat_to_cut_relations": ("threat", "cut", "downgrade", "expel", "recall", "relations"),
    "relations_cut": ("cut", "downgrade", "expel", "relations", "envoy"),
    "shelling_or_strike": ("strike_strong", "weapon"),
    "ceasefire_call_or_agreement": ("call", "agree", "entry", "truce"),
}


def decide_frame(
    event: str, reading: Reading, classifier: EventClassifier | None
) -> Verdict | None:
    """The frame stage's verdict on `event`: the best candidate sentence, or None."""
    candidates = [s for s in reading.sentences if any(s.has(c) for c in TRIGGERS[event])]
    candidates = candidates[:MAX_CANDIDATES]
    if not candidates:
        return None
    hits: list[FrameHit | None] = [FRAMES[event](s) for s in candidates]
    if classifier is None or event not in classifier.models:
        fired = [h for h in hits if h is not None and h.fires]
        if not fired:
            return None
        best = fired[0].sentence
        return Verdict(
            event, 1.0, reading.evidence(best), reading.spans(best, SHOWN[event]), ("frame",), 1.0
        )
    import numpy as np

    model = classifier.models[event]
    features = np.asarray(
        [
            sentence_features(s, event, h, reading.title)
            for s, h in zip(candidates, hits, strict=True)
        ],
        dtype=np.float32,
    )
    probabilities = model.probability(features, reading.embeddings(candidates, classifier))
    best_index = int(np.argmax(probabilities))
    best = candidates[best_index]
    return Verdict(
        event,
        round(float(probabilities[best_index]), 4),
        reading.evidence(best),
        reading.spans(best, SHOWN[event]),
        ("frame", "classifier"),
        model.threshold,
    )
