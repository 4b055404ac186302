"""Who did what to whom: the countries, organisations and armed groups of an evidence sentence,
each with its role in the event.

The gazetteer is every country's name in ar, en, fr, ru from CLDR (through Babel), plus the
shipped aliases of `detect/gazetteer/aliases.yaml` (demonyms, capitals, seats of government,
leaders, short names) and its organisations and armed groups. Names match as the detector's
words do: folded, inflected by the sentence's language, Arabic proclitics stripped
(«وأذربيجان», «الأذربيجانية»).

Roles come from the sentence's shape around the event's trigger (the cue lexicons of
`detect.frames`), not from a parser:
- `source`: who makes a claim: the party before an accusation verb ("Armenia accused …"; in
  Arabic, the party right after it: «اتهمت أرمينيا …»), and, for violations and strikes, the
  party before a verb of saying;
- `actor`: the accused party, else the party nearest before the trigger (in Arabic, when none
  comes before it in the clause, the first after it: «هدد رئيس أذربيجان …»);
- `target`: after "with", «مع», "avec", «с» (relations), after "on", "in", "against" (strikes),
  the ambassador's country ("expelled the Israeli ambassador"), the accuser of a violation,
  or else the next party after the trigger;
- `mentioned`: everyone else.
Measured on labelled evidence sentences by `bench/actor_accuracy.py`.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

from detect.lexicon import Entry, compile_entry, load_lexicon
from detect.terms import TermTable
from text.analysers import LANGUAGES
from text.fold import WORD_RE, fold

ALIASES = Path(__file__).with_name("gazetteer") / "aliases.yaml"
Kind = Literal["country", "organisation", "armed_group"]
Role = Literal["actor", "target", "source", "mentioned"]
_KINDS: dict[str, Kind] = {
    "countries": "country",
    "organisations": "organisation",
    "armed_groups": "armed_group",
}
#: Cue categories that mark the event's act in a sentence, per event.
TRIGGER_CUES: dict[str, tuple[str, ...]] = {
    "ceasefire_violation": ("violate", "despite", "strike_strong", "fighting"),
    "threat_to_cut_relations": ("threat", "cut", "downgrade", "expel", "recall", "close"),
    "relations_cut": ("cut", "downgrade", "expel", "recall", "close"),
    "shelling_or_strike": ("strike_strong", "strike_weak"),
    "ceasefire_call_or_agreement": ("call", "agree", "entry"),
}
#: Little words that introduce the other party, per language (beside the cue lexicons).
_MARKERS: dict[str, dict[str, list[str]]] = {
    "with": {
        "en": ["with"],
        "ar": ["مع"],
        "fr": ["avec"],
        "ru": ["с", "со"],
    },
    "on": {
        "en": ["on", "in", "against", "at", "into", "over", "near", "targeting"],
        "ar": ["على", "في", "ضد", "علي", "باتجاه", "نحو"],
        "fr": ["sur", "contre", "à", "en", "vers"],
        "ru": ["по", "на", "в", "против"],
    },
    "by": {  # the agent of a passive: "a drone strike by the RSF", "brokered by Egypt"
        "en": ["by"],
        "ar": ["من قبل", "بواسطة", "على يد"],
        "fr": ["par"],
        "ru": ["со стороны"],
    },
    "each_other": {  # reciprocal: every party both does and suffers it
        "en": ["each other", "one another", "mutual", "both sides", "both parties"],
        "ar": ["بعضهما", "تبادل", "تبادلت", "تبادلا", "متبادل", "المتبادله", "الطرفين", "الطرفان"],
        "fr": ["mutuellement", "l'un l'autre", "les deux parties", "les deux camps"],
        "ru": ["друг друга", "взаимные", "взаимных", "стороны"],
    },
    "say": {
        "en": ["said", "says", "say", "according", "claimed", "reported", "stated"],
        "ar": ["قال", "قالت", "أعلن", "أعلنت", "أكد", "أكدت", "ذكر", "ذكرت", "أفاد", "أفادت"],
        "fr": ["déclaré", "affirmé", "selon", "annoncé", "indiqué"],
        "ru": ["заявил", "заявила", "заявили", "сообщил", "сообщили", "по данным"],
    },
}
_ROLE_CUES = ("accuse", "envoy", "ambassador")


@dataclass(frozen=True)
class Entity:
    id: str  # ISO 3166-1 alpha-2, or an id such as UN, HAMAS
    kind: Kind
    name: str  # English name, for messages


@dataclass(frozen=True)
class Mention:
    entity: Entity
    span: tuple[int, int]  # word indexes, inclusive


@dataclass(frozen=True)
class Party:
    """An entity of the sentence and its role."""

    entity: Entity
    role: Role


@dataclass
class Gazetteer:
    """Entities and their names, compiled into a term table of their own."""

    entities: dict[str, Entity]
    aliases: dict[str, frozenset[str]] = field(default_factory=dict)  # id → every name
    terms: TermTable = field(default_factory=TermTable)
    names: dict[int, list[tuple[str, Entry]]] = field(default_factory=dict)  # first term →
    cues: dict[int, list[tuple[str, Entry]]] = field(default_factory=dict)

    @classmethod
    def build(cls, names: dict[str, tuple[Kind, str, set[str]]]) -> "Gazetteer":
        gazetteer = cls(
            {code: Entity(code, kind, en) for code, (kind, en, _) in names.items()},
            {code: frozenset(aliases) for code, (_, _, aliases) in names.items()},
        )
        for code, (_, _, aliases) in names.items():
            for alias in aliases:
                entry = compile_entry(alias, gazetteer.terms)
                if entry:
                    gazetteer.names.setdefault(entry[0], []).append((code, entry))
        categories: dict[str, set[str]] = {}
        for lang in LANGUAGES:
            lexicon = load_lexicon(lang)
            needed = {c for cues in TRIGGER_CUES.values() for c in cues} | set(_ROLE_CUES)
            for category in sorted(needed):
                categories.setdefault(category, set()).update(lexicon.get(category, ()))
            for marker, words in _MARKERS.items():
                categories.setdefault(marker, set()).update(words.get(lang, ()))
        for category, entries in sorted(categories.items()):  # sorted: the same on every run
            for text in sorted(entries):
                entry = compile_entry(text, gazetteer.terms)
                if entry:
                    gazetteer.cues.setdefault(entry[0], []).append((category, entry))
        return gazetteer

    def read(self, sentence: str, lang: str | None, event: str | None) -> list[Party]:
        """The parties of `sentence` (an alert's evidence) and their roles in `event`."""
        words = WORD_RE.findall(fold(sentence))
        positions: dict[int, list[int]] = {}
        for index, word in enumerate(words):
            for term in self.terms.terms_of(word, lang):
                positions.setdefault(term, []).append(index)
        mentions = _mentions(self.names, positions, self.entities)
        if not mentions:
            return []
        cues = _spans(self.cues, positions)
        return _roles(mentions, cues, lang, event)


def _spans(
    index: dict[int, list[tuple[str, Entry]]], positions: dict[int, list[int]]
) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, set[tuple[int, int]]] = {}
    for first in positions.keys() & index.keys():
        for key, entry in index[first]:
            later = [set(positions.get(t, ())) for t in entry[1:]]
            for p in positions[first]:
                if all(p + k in s for k, s in enumerate(later, 1)):
                    found.setdefault(key, set()).add((p, p + len(entry) - 1))
    return {key: sorted(spans) for key, spans in found.items()}


def _mentions(
    index: dict[int, list[tuple[str, Entry]]],
    positions: dict[int, list[int]],
    entities: dict[str, Entity],
) -> list[Mention]:
    """Non-overlapping mentions, the longer name winning ("South Korea" over "Korea")."""
    candidates = [
        (span, code) for code, spans in _spans(index, positions).items() for span in spans
    ]
    candidates.sort(key=lambda c: (-(c[0][1] - c[0][0]), c[0][0], c[1]))  # ties: by id, stably
    taken: set[int] = set()
    out = []
    for (start, end), code in candidates:
        if taken.isdisjoint(range(start, end + 1)):
            taken.update(range(start, end + 1))
            out.append(Mention(entities[code], (start, end)))
    return sorted(out, key=lambda m: m.span)


def _first_after(mentions: list[Mention], position: int, skip: set[str]) -> Mention | None:
    return next((m for m in mentions if m.span[0] > position and m.entity.id not in skip), None)


def _last_before(mentions: list[Mention], position: int, skip: set[str]) -> Mention | None:
    before = [m for m in mentions if m.span[1] < position and m.entity.id not in skip]
    return before[-1] if before else None


def _roles(
    mentions: list[Mention],
    cues: dict[str, list[tuple[int, int]]],
    lang: str | None,
    event: str | None,
) -> list[Party]:
    roles: dict[str, Role] = {}

    def give(mention: Mention | None, role: Role) -> None:
        if mention is not None and mention.entity.id not in roles:
            roles[mention.entity.id] = role

    triggers = sorted(s for c in TRIGGER_CUES.get(event or "", ()) for s in cues.get(c, ()))
    trigger = triggers[0][0] if triggers else mentions[0].span[0]
    parties = [
        m for m in mentions if m.entity.kind != "organisation" or event != "shelling_or_strike"
    ]
    if cues.get("each_other") and len({m.entity.id for m in parties}) >= 2:
        # "Armenia and Azerbaijan accused each other", «تبادل الاتهامات بين روسيا وأوكرانيا»
        both = [Party(m.entity, r) for m in _distinct(parties) for r in ("actor", "target")]
        if cues.get("accuse"):
            both += [Party(m.entity, "source") for m in _distinct(parties)]
        return both + [
            Party(m.entity, "mentioned") for m in _distinct(mentions) if m not in parties
        ]
    if event in ("relations_cut", "threat_to_cut_relations"):
        # the ambassador's country first: "expelled the French ambassador", «سفير إثيوبيا»
        for start, end in cues.get("ambassador", []) + cues.get("envoy", []):
            give(_owner(mentions, start, end, set(roles), lang), "target")
    accuse = cues.get("accuse", [])
    verb_first = lang == "ar"  # Arabic news sentences often start with the verb
    if accuse:
        at = accuse[0][0]
        speaker = _speaker(mentions, cues, at) if verb_first else None
        source: Mention | None
        if speaker is not None:  # «أكد مساعد رئيس أذربيجان ... واتهم أرمينيا بخرق الهدنة»
            source = speaker
        elif (
            verb_first
            and _first_after(mentions, at, set())
            and not _last_before(mentions, at, set())
        ):
            source = _first_after(mentions, at, set())
        else:
            source = _last_before(mentions, at, set()) or _first_after(mentions, at, set())
        give(source, "source")
        give(_first_after(mentions, source.span[1] if source else at, set(roles)), "actor")
    elif event in ("ceasefire_violation", "shelling_or_strike"):
        says = [s for s in cues.get("say", []) if s[0] < trigger]
        if says:
            give(_last_before(mentions, says[-1][0], set()), "source")
    if event in ("shelling_or_strike", "ceasefire_violation"):
        # the place struck comes after "on", "in", «على», «في»: "a rocket attack on Odesa"
        for start, _ in cues.get("on", []):
            if 0 <= start - trigger <= 4:
                give(_first_after(mentions, start, set(roles)), "target")
    agents = [s for s in cues.get("by", []) if 0 <= s[0] - trigger <= 8]
    if agents and "actor" not in roles.values():
        give(_first_after(mentions, agents[0][1], set(roles)), "actor")
    if "actor" not in roles.values():
        actor = _last_before(mentions, trigger, set(roles))
        if actor is None or (verb_first and trigger <= min(m.span[0] for m in mentions)):
            actor = _first_after(mentions, trigger - 1, set(roles)) if actor is None else actor
        give(actor, "actor")
    for marker in ("with", "on"):
        if event in _TARGET_MARKERS.get(marker, ()):
            for start, _ in cues.get(marker, []):
                if start > trigger - 2:
                    give(_first_after(mentions, start, set(roles)), "target")
    if (
        event == "ceasefire_violation"
        and "source" in roles.values()
        and "target" not in roles.values()
    ):
        source_id = next(k for k, v in roles.items() if v == "source")
        return [*_parties(mentions, roles), Party(_entity(mentions, source_id), "target")]
    if event == "ceasefire_call_or_agreement":  # the parties called on, or agreeing
        for m in mentions:
            if m.span[0] > trigger:
                give(m, "target")
    if "target" not in roles.values():
        give(_first_after(mentions, trigger, set(roles)), "target")
    return _parties(mentions, roles)


def _speaker(
    mentions: list[Mention], cues: dict[str, list[tuple[int, int]]], before: int
) -> Mention | None:
    """In a verb-first sentence, the party right after a verb of saying that opens it before
    `before` (the accusation): «أكد مساعد رئيس أذربيجان» says who speaks."""
    for start, end in cues.get("say", []):
        if start < before:
            after = _first_after(mentions, end - 1, set())
            if after is not None and after.span[0] < before and after.span[0] - end <= 3:
                return after
    return None


def _owner(
    mentions: list[Mention], start: int, end: int, skip: set[str], lang: str | None
) -> Mention | None:
    """Whose envoy: the party right after ("ambassador of Iran", «سفير إثيوبيا», «السفير
    الفرنسي», «посол Франции»), or in English right before ("the French ambassador")."""
    for m in mentions:
        if m.entity.id in skip:
            continue
        if 0 < m.span[0] - end <= 2 or (lang in (None, "en") and 0 < start - m.span[1] <= 1):
            return m
    return None


def _distinct(mentions: list[Mention]) -> list[Mention]:
    seen: dict[str, Mention] = {}
    for m in mentions:
        seen.setdefault(m.entity.id, m)
    return list(seen.values())


_TARGET_MARKERS = {
    "with": ("relations_cut", "threat_to_cut_relations"),
    "on": ("shelling_or_strike", "ceasefire_violation"),
}


def _entity(mentions: list[Mention], code: str) -> Entity:
    return next(m.entity for m in mentions if m.entity.id == code)


def _parties(mentions: list[Mention], roles: dict[str, Role]) -> list[Party]:
    seen: dict[str, Party] = {}
    for m in mentions:
        if m.entity.id not in seen:
            seen[m.entity.id] = Party(m.entity, roles.get(m.entity.id, "mentioned"))
    return list(seen.values())


#: CLDR territory codes that are not countries.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


def _cldr_names() -> dict[str, tuple[Kind, str, set[str]]]:
    """Every country's CLDR name in the four languages, with the shipped aliases added, and
    the shipped organisations and armed groups."""
    from babel import Locale

    data = yaml.safe_load(ALIASES.read_text(encoding="utf-8"))
    territories = {lang: Locale(lang).territories for lang in LANGUAGES}
    out: dict[str, tuple[Kind, str, set[str]]] = {}
    for code, name in territories["en"].items():
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
            names = {territories[lang].get(code, "") for lang in LANGUAGES} - {""}
            out[code] = ("country", name, names)
    for section, kind in _KINDS.items():
        for code, per_lang in (data.get(section) or {}).items():
            if not isinstance(code, str):  # YAML reads an unquoted NO (Norway) as false
                raise ValueError(f"{ALIASES}: {section}: quote the code {code!r}")
            aliases = {str(a) for names in per_lang.values() for a in names}
            if kind == "country":
                out[code][2].update(aliases)
            else:
                out[str(code)] = (kind, str(per_lang["en"][0]), aliases)
    return out


@cache
def shipped_gazetteer() -> Gazetteer:
    """The shipped gazetteer, built once per process (about a second)."""
    return Gazetteer.build(_cldr_names())


def entity_ids(parties: Iterable[Party]) -> set[str]:
    return {p.entity.id for p in parties}


def known_entity(code: str) -> bool:
    """Whether `code` is a country or group of the shipped gazetteer."""
    return code in shipped_gazetteer().entities
