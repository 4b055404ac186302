"""Language analysis shared by ingest and detect: one folding, one tokenizer, one analyser per
language (Lucene's analysis chain, in miniature): `fold` → words → per-language clitics and
inflection (`analyser_for`), plus sentence boundaries.

Nothing here does I/O or knows Kafka; ingest and detect both import it, never the reverse.
"""

from text.analysers import LANGUAGES, Analyser, analyser_for, script_of
from text.fold import WORD_RE, FoldedText, fold
from text.sentences import sentence_spans

__all__ = [
    "LANGUAGES",
    "WORD_RE",
    "Analyser",
    "FoldedText",
    "analyser_for",
    "fold",
    "script_of",
    "sentence_spans",
]
