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
    FEATURES,
    FRAMES,
    TRIGGERS,
    FieldName,
    FrameHit,
    MatchedField,
    Sentence,
    Span,
    is_candidate,
    sentence_features,
)
from detect.model import Match, Stage
from text.sentences import sentence_spans

if TYPE_CHECKING:
    import numpy as np

#: Candidate sentences the classifier reads per event and article: the title and the lead
#: carry the news, and a long article must not cost more than a short one.
MAX_CANDIDATES = 8
#: Of those, how many the encoder reads per event (the best by the frame features alone).
MAX_ENCODED = 2
#: A frame-features-only probability from which the encoder is not consulted at all.
SURE = 0.97
#: Words either side of a trigger that the encoder reads of a long sentence.
WINDOW = 16


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
    _vectors: dict[str, "np.ndarray"] = field(default_factory=dict)  # by text read

    @property
    def title(self) -> Sentence | None:
        return next((s for s in self.sentences if s.field == "title"), None)

    def text_of(self, s: Sentence) -> str:
        return self.fields[s.field].text.original[s.chars[0] : s.chars[1]]

    def evidence(self, s: Sentence) -> Match:
        start, end = s.chars
        return Match(text=self.text_of(s), field=s.field, start=start, end=end)

    def spans(self, s: Sentence, event: str, hit: FrameHit | None) -> tuple[Match, ...]:
        """What an alert shows as matched: the frame's trigger joined to its nearest object
        as one phrase ("violated the ceasefire", «بقطع العلاقات»), else the sentence's cues."""
        f = self.fields[s.field]
        if hit is not None:
            objects = [o for c in OBJECTS[event] for o in s.get(c)]
            first, last = hit.trigger
            near = [o for o in objects if o[0] - last <= JOIN and first - o[1] <= JOIN]
            if near:
                closest = min(near, key=lambda o: min(abs(o[0] - last), abs(first - o[1])))
                first, last = min(first, closest[0]), max(last, closest[1])
            if event == "threat_to_cut_relations":  # «هدد بقطع العلاقات», "threatened to cut"
                threats = [t for t in s.get("threat") if 0 <= first - t[1] <= JOIN]
                if threats:
                    first = max(threats, key=lambda t: t[1])[0]
            return (f.match(s.field, first, last),)
        found: list[Span] = sorted({x for c in TRIGGERS[event] for x in s.get(c)})
        return tuple(f.match(s.field, a, b) for a, b in found[:6])

    def window(self, s: Sentence, hit: FrameHit | None) -> str:
        """What the encoder reads of a candidate sentence: the whole sentence when short, else
        WINDOW words either side of the frame's trigger (or of the first cue). Long news
        sentences cost the encoder in proportion to their length; the event sits near the
        trigger."""
        first, end = s.words
        if end - first <= 2 * WINDOW + 1:
            return self.text_of(s)
        center = hit.trigger[0] if hit else min(x[0] for spans in s.cues.values() for x in spans)
        low, high = max(first, center - WINDOW), min(end - 1, center + WINDOW)
        return self.fields[s.field].match(s.field, low, high).text

    def embeddings(
        self,
        sentences: Sequence[Sentence],
        hits: Sequence[FrameHit | None],
        classifier: EventClassifier,
    ) -> "np.ndarray":
        import numpy as np

        if classifier.encoder is None:
            return np.zeros((len(sentences), 0), dtype=np.float32)
        texts = [self.window(s, h) for s, h in zip(sentences, hits, strict=True)]
        missing = sorted({t for t in texts if t not in self._vectors})
        if missing:
            for text, vector in zip(missing, classifier.encoder.encode(missing), strict=True):
                self._vectors[text] = vector
        return np.vstack([self._vectors[t] for t in texts])


#: Words between a trigger and its object for the two to be shown as one phrase.
JOIN = 12
#: What a frame's trigger acts on, per event: joined to the trigger in the matched phrase.
OBJECTS: dict[str, tuple[str, ...]] = {
    "ceasefire_violation": ("truce", "terms"),
    "threat_to_cut_relations": ("relations", "envoy"),
    "relations_cut": ("relations", "envoy"),
    "shelling_or_strike": ("weapon",),
    "ceasefire_call_or_agreement": ("truce",),
}


def candidates(event: str, reading: Reading) -> tuple[list[Sentence], list[FrameHit | None]]:
    """The sentences the classifier reads for `event` (those with a trigger cue), and the
    frame each holds (or None)."""
    sentences = [s for s in reading.sentences if is_candidate(event, s)]
    sentences = sentences[:MAX_CANDIDATES]
    return sentences, [FRAMES[event](s) for s in sentences]


def feature_matrix(
    event: str,
    sentences: Sequence[Sentence],
    hits: Sequence[FrameHit | None],
    title: Sentence | None,
) -> "np.ndarray":
    import numpy as np

    rows = [sentence_features(s, event, h, title) for s, h in zip(sentences, hits, strict=True)]
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURES))


def decide_frame(
    event: str, reading: Reading, classifier: EventClassifier | None
) -> Verdict | None:
    """The frame stage's verdict on `event`: the best candidate sentence, or None."""
    sentences, hits = candidates(event, reading)
    if not sentences:
        return None
    if classifier is None or event not in classifier.models:
        fired = [h for h in hits if h is not None and h.fires]
        if not fired:
            return None
        best = fired[0].sentence
        return Verdict(
            event,
            1.0,
            reading.evidence(best),
            reading.spans(best, event, fired[0]),
            ("frame",),
            1.0,
        )
    import numpy as np

    model = classifier.models[event]
    features = feature_matrix(event, sentences, hits, reading.title)
    if event in classifier.gates:
        # the frame features alone rank the candidates: those under the gate's floor are not
        # encoded at all, and of the rest only the best MAX_ENCODED (the encoder is the cost)
        gate, floor = classifier.gates[event]
        odds = gate.probability(features, np.zeros((len(sentences), 0), np.float32))
        keep = [i for i in np.argsort(-odds, kind="stable")[:MAX_ENCODED] if odds[i] >= floor]
        if not keep:
            return None
        if odds[keep[0]] >= SURE:  # the frame features settle it: no need to encode
            best = sentences[keep[0]]
            return Verdict(
                event,
                round(float(odds[keep[0]]), 4),
                reading.evidence(best),
                reading.spans(best, event, hits[keep[0]]),
                ("frame", "classifier"),
                model.threshold,
            )
        sentences = [sentences[i] for i in keep]
        hits = [hits[i] for i in keep]
        features = features[keep]
    probabilities = model.probability(features, reading.embeddings(sentences, hits, classifier))
    best_index = int(np.argmax(probabilities))
    best = sentences[best_index]
    return Verdict(
        event,
        round(float(probabilities[best_index]), 4),
        reading.evidence(best),
        reading.spans(best, event, hits[best_index]),
        ("frame", "classifier"),
        model.threshold,
    )
