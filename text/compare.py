"""Content words for comparing articles (story grouping), on the same folding as matching.

Grouping needs less than matching: the words a rewritten or re-typed copy of a headline shares
with the original. `content_words` folds (`text.fold`), splits into words, strips Arabic
proclitics from words long enough to keep a stem, drops a final English possessive or plural
`s`, stems French and Russian words (Snowball), and drops function words of the four languages
and headline decoration (`BREAKING`, `Reuters`, `عاجل`), which say nothing about the story.
"""

from text.analysers import analyser_for, script_of
from text.fold import WORD_RE, fold

_STOPWORDS = frozenset(
    """a an the of in on at to for from by with and or but as is are was were be been has have had
    it its this that these those after before over into about says said say will would not no new
    more than up out he she they we you his her their our who which what when where how also
    في من على الى عن ان او ثم قد لا ما مع بعد قبل هذا هذه ذلك تلك التي الذي الذين كان كانت
    يكون حول بين عند منذ خلال كل اي غير لم لن هو هي هم نحو وفق قال قالت اليوم امس
    le la les l un une des du de d et ou mais en dans sur pour par avec au aux ce cette ces qui
    que qu il elle ils elles on est sont a ont été se sa son ses leur leurs ne pas plus selon
    и в во не на с со что как а по к из у за от до о об для же ли это этот эта эти его ее их
    он она они был была были бы при после также заявил заявила""".split()
) | frozenset(  # how outlets decorate a copied headline: nothing about the story itself
    """breaking exclusive update updated live video watch news world reuters afp ap
    عاجل حصري فيديو بالفيديو صور بالصور وكالات""".split()
)


#: Longest first: و+ب+ال before ب+ال before ال (fewer than matching tries: grouping was tuned so).
_PROCLITICS = ("وبال", "وكال", "فبال", "وال", "فال", "بال", "كال", "لل", "ال", "و", "ف", "ب", "ل")


def _stem(word: str, lang: str | None) -> str:
    script = script_of(word)
    if script == "arabic":
        for clitic in _PROCLITICS:
            if word.startswith(clitic) and len(word) - len(clitic) >= 3:
                return word[len(clitic) :]
        return word
    analyser = analyser_for(lang, word)
    if analyser.lang in ("fr", "ru"):
        return next(iter(analyser.splits(word)))[0]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str, lang: str | None = None) -> list[str]:
    """Content words of `text`, folded and lightly stemmed, in order."""
    out = []
    for word in WORD_RE.findall(fold(text)):
        if word in _STOPWORDS:
            continue
        stem = _stem(word, lang)
        if stem not in _STOPWORDS and (len(stem) > 1 or stem.isdigit()):
            out.append(stem)
    return out
