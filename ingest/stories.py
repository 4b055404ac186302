"""Group copies of one story across outlets: `StoryIndex.assign` gives each article a `story_id`.

Syndicated and lightly rewritten copies (a wire story on ten sites, each with its own headline
decoration) share most content words of their headline and lead. Each article becomes the set of
its folded content words (`text.compare`) over the title and the lead's
first `LEAD_CHARS` characters; MinHash (datasketch) estimates the Jaccard similarity of two such
sets and an LSH index finds the candidates in sub-linear time. An article joins the story of its
most similar earlier article within the time window when the similarity reaches the threshold,
else it starts its own story (its id). Languages are not bridged: an Arabic and an English report
of one event stay two stories (that needs translation, not hashing).

Pure: no I/O and no clock. `IngestState` persists the signatures so a restart keeps the stories.
"""

import itertools
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingest.model import Article
from text.compare import content_words

if TYPE_CHECKING:
    import numpy as np
    from datasketch import MinHash

# datasketch (and numpy, scipy under it) is imported where used: it costs a third of a second,
# which every CLI command importing the config (and so this module) would pay otherwise.

#: How much of the text counts besides the title: the lead, where copies agree most.
LEAD_CHARS = 300
NUM_PERM = 64
#: At most this many LSH candidates are compared: a flood of near-identical items (a spam feed)
#: must not make each new article cost time in proportion to the index.
MAX_CANDIDATES = 50
#: The LSH bands are tuned for this fraction of the threshold (recall before precision).
LSH_FACTOR = 0.8
#: Estimated Jaccard similarity from which two articles are one story. On the labelled pairs
#: (bench/story_pairs.py) syndicated copies score 0.53 and up, different stories 0.33 at most.
DEFAULT_THRESHOLD = 0.45
#: datasketch's MinHash seed: signatures stored with one seed only compare with the same seed.
SEED = 1
#: ... and its permutation scheme (datasketch 2's default, named so stored values stay readable).
SCHEME = "affine32"


def shingles(title: str, text: str, lang: str | None = None) -> set[str]:
    """The set an article is compared by: content words of title and lead."""
    return set(content_words(title, lang)) | set(content_words(text[:LEAD_CHARS], lang))


def signature(tokens: set[str], permutations: Any = None) -> "MinHash":
    """MinHash of `tokens`; pass `permutations` of an earlier one to skip drawing them again."""
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, permutations=permutations)
    m.update_batch([t.encode("utf-8") for t in sorted(tokens)])
    return m


@dataclass(frozen=True)
class StoryEntry:
    """One article in the index, as persisted."""

    article_id: str
    story_id: str
    at: datetime
    hashvalues: bytes

    def minhash(self) -> "MinHash":
        import numpy as np
        from datasketch import MinHash

        values = np.frombuffer(self.hashvalues, dtype=np.uint64)
        return MinHash(num_perm=NUM_PERM, seed=SEED, hashvalues=values, scheme=SCHEME)


class StoryIndex:
    """Recent articles by MinHash signature; `assign` returns an article's story id."""

    def __init__(
        self, *, threshold: float = DEFAULT_THRESHOLD, window: timedelta = timedelta(hours=48)
    ) -> None:
        self.threshold = threshold
        self.window = window
        # LSH only proposes candidates, each then checked against `threshold`: banding for a
        # lower similarity keeps copies near the threshold from slipping through the bands
        from datasketch import MinHash, MinHashLSH

        self._permutations = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations
        self._lsh = MinHashLSH(threshold=max(0.1, threshold * LSH_FACTOR), num_perm=NUM_PERM)
        # only the hash values are kept (a MinHash object also carries its permutations)
        self._entries: dict[str, tuple[StoryEntry, np.ndarray]] = {}
        self._order: deque[tuple[datetime, str]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def load(self, entries: list[StoryEntry]) -> None:
        """Restore persisted entries (oldest first)."""
        for entry in sorted(entries, key=lambda e: e.at):
            self._add(entry, entry.minhash())

    def similarity(self, a: Article, b: Article) -> float:
        """Estimated Jaccard similarity of two articles' shingles."""
        sa, sb = shingles(a.title, a.text, a.lang), shingles(b.title, b.text, b.lang)
        if not sa or not sb:
            return 0.0
        return float(signature(sa).jaccard(signature(sb)))

    def assign(self, article: Article, at: datetime) -> tuple[str, StoryEntry | None]:
        """The article's story id, and the entry to persist (None when it has no content words
        or is already indexed). Entries older than the window are forgotten first."""
        self.expire(at)
        known = self._entries.get(article.id)
        if known is not None:
            return known[0].story_id, None
        tokens = shingles(article.title, article.text, article.lang)
        if not tokens:
            return article.id, None
        import numpy as np

        m = signature(tokens, self._permutations)
        best: tuple[float, StoryEntry] | None = None
        for key in itertools.islice(self._lsh.query(m), MAX_CANDIDATES):
            entry, other = self._entries[key]
            score = float(np.count_nonzero(m.hashvalues == other)) / NUM_PERM
            if score >= self.threshold and (best is None or score > best[0]):
                best = (score, entry)
        story_id = best[1].story_id if best else article.id
        entry = StoryEntry(article.id, story_id, at, m.hashvalues.astype("uint64").tobytes())
        self._add(entry, m)
        return story_id, entry

    def expire(self, now: datetime) -> None:
        horizon = now - self.window
        while self._order and self._order[0][0] < horizon:
            _, key = self._order.popleft()
            if key in self._entries:
                del self._entries[key]
                self._lsh.remove(key)

    def _add(self, entry: StoryEntry, m: "MinHash") -> None:
        if entry.article_id in self._entries:
            return
        self._entries[entry.article_id] = (entry, m.hashvalues)
        self._lsh.insert(entry.article_id, m)
        self._order.append((entry.at, entry.article_id))
