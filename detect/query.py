"""The watchlist query language: parsing to an AST, with errors that say where.

    query   := or ("NOT" or)*                          A NOT B: A, and not B (loosest)
    or      := and ("OR" and)*
    and     := near (["AND"] near)*                     adjacent terms are ANDed
    near    := unary (("NEAR/n" | "ONEAR/n") unary)*
    unary   := "NOT" unary | FIELD ":" primary | primary   AND NOT binds tightly
    primary := "(" query ")" | "exact phrase" | term | term*

So `truce OR ceasefire NOT football OR cricket` is (truce OR ceasefire) AND NOT (football OR
cricket), as in Lucene-style tools: a bare NOT excludes what follows it from everything before
it, up to the enclosing brackets.

Fields: `title:` and `text:` scope their operand to one field; `country:AZ` matches a
mention of a country or group of the gazetteer by any of its names (`detect.actors`);
`lang:xx` and `source:name`
test the article's metadata. Operators are upper case; lower-case `and`, `or`, `not`, `near`
are ordinary words. Matching semantics live in `detect.terms` and `detect.matcher`.

Nesting is bounded (`MAX_DEPTH`): each bracket, each NOT and each link of a NEAR chain is one
level, so neither this recursive-descent parser nor the recursive code that compiles and
evaluates the AST can exhaust Python's stack on a hostile query.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from detect.errors import QueryError

MAX_NEAR = 100
MIN_PREFIX = 3
MAX_DEPTH = 32


@dataclass(frozen=True)
class Term:
    """A bare word: matches its inflections (see `detect.terms`)."""

    word: str


@dataclass(frozen=True)
class Prefix:
    """`word*`: any word starting with `word`."""

    stem: str


@dataclass(frozen=True)
class Phrase:
    """`"exact phrase"`: these words in this order, adjacent, not inflected."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    child: "Node"


@dataclass(frozen=True)
class Near:
    left: "Node"
    right: "Node"
    distance: int
    ordered: bool


@dataclass(frozen=True)
class FieldScope:
    field: Literal["title", "text"]
    child: "Node"


@dataclass(frozen=True)
class Meta:
    """`lang:ar`, `source:"BBC Arabic"`: a test on the article's metadata; `country:AZ`: a
    mention of the country or group (compiled into its names by the matcher)."""

    key: Literal["lang", "source", "country"]
    value: str


Node = Term | Prefix | Phrase | And | Or | Not | Near | FieldScope | Meta

_TOKEN_RE = re.compile(
    r"""(?P<space>\s+)
      | (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<phrase>"[^"]*"?)
      | (?P<near>O?NEAR/\d+)\b
      | (?P<op>AND|OR|NOT)(?![\w*:])
      | (?P<field>(?:title|text|lang|source|country):)
      | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)
_WORD_CHARS_RE = re.compile(r"\w")


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    col: int  # 1-based column in the query


def _tokenize(query: str) -> list[_Tok]:
    tokens = []
    for m in _TOKEN_RE.finditer(query):
        kind = m.lastgroup or "word"
        if kind != "space":
            tokens.append(_Tok(kind, m.group(), m.start() + 1))
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokenize(query)
        self.i = 0
        self.depth = 0  # levels of nesting open at the current token

    def descend(self, tok: _Tok) -> None:
        """Open one level of nesting at `tok`; refuse more than `MAX_DEPTH` before the stack
        (the parser's, or later the matcher's) could overflow."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            levels = "each bracket, NOT and NEAR is a level"
            raise self.error(f"nested more than {MAX_DEPTH} levels deep ({levels})", tok)

    def error(self, message: str, tok: _Tok | None = None) -> QueryError:
        col = tok.col if tok else len(self.query) + 1
        return QueryError(f"{message} at column {col}", self.query, col)

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("query is empty", self.query, 1)
        node = self.parse_query()
        tok = self.peek()
        if tok is not None:
            raise self.error(
                f"unexpected {tok.text!r}" + (" (no matching '(')" if tok.kind == "rparen" else ""),
                tok,
            )
        return node

    def parse_query(self) -> Node:
        outer = self.depth
        node = self.parse_or()
        while (tok := self.peek()) and tok.kind == "op" and tok.text == "NOT":
            self.take()
            self.descend(tok)  # each bare NOT nests what came before it one level deeper
            node = And((node, Not(self.parse_or())))
        self.depth = outer
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (tok := self.peek()) and tok.kind == "op" and tok.text == "OR":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_near()]
        while (tok := self.peek()) and not (
            tok.kind == "rparen" or (tok.kind == "op" and tok.text in ("OR", "NOT"))
        ):
            if tok.kind == "op" and tok.text == "AND":
                self.take()
            children.append(self.parse_near())  # explicit or implicit AND
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_near(self) -> Node:
        outer = self.depth
        left = self.parse_unary()
        while (tok := self.peek()) and tok.kind == "near":
            self.take()
            self.descend(tok)  # a NEAR chain nests to the left
            distance = int(tok.text.split("/")[1])
            if not 1 <= distance <= MAX_NEAR:
                raise self.error(f"{tok.text}: the distance must be 1 to {MAX_NEAR}", tok)
            right = self.parse_unary()
            for side in (left, right):
                if not _positional(side):
                    raise self.error(
                        f"{tok.text} needs words, phrases, wildcards, OR groups "
                        "of them, or other NEARs on both sides",
                        tok,
                    )
            left = Near(left, right, distance, ordered=tok.text.startswith("O"))
        self.depth = outer
        return left

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.error("query ends where a word, phrase or '(' was expected")
        if tok.kind == "op" and tok.text == "NOT":
            self.take()
            self.descend(tok)
            node: Node = Not(self.parse_unary())
            self.depth -= 1
            return node
        if tok.kind == "field":
            self.take()
            name = tok.text[:-1]
            if name in ("lang", "source"):
                value = self.take_value(tok)
                if name == "lang" and not re.fullmatch(r"[a-z]{2}", value):
                    raise self.error(
                        f"lang: wants a two-letter code such as ar or en, not {value!r}", tok
                    )
                return Meta("lang" if name == "lang" else "source", value.lower())
            if name == "country":
                value = self.take_value(tok)
                if not re.fullmatch(r"[A-Za-z][A-Za-z_]{1,31}", value):
                    raise self.error(
                        f"country: wants a code such as AZ or an id such as HAMAS, not {value!r}",
                        tok,
                    )
                return Meta("country", value.upper())
            return FieldScope("title" if name == "title" else "text", self.parse_primary())
        return self.parse_primary()

    def take_value(self, field_tok: _Tok) -> str:
        tok = self.peek()
        if tok is None or tok.kind not in ("word", "phrase"):
            raise self.error(f"{field_tok.text} needs a value", tok or None)
        self.take()
        return tok.text.strip('"')

    def parse_primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.error("query ends where a word, phrase or '(' was expected")
        if tok.kind == "lparen":
            self.take()
            self.descend(tok)
            node = self.parse_query()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise self.error("'(' is never closed", tok)
            self.take()
            self.depth -= 1
            return node
        if tok.kind == "phrase":
            self.take()
            if not tok.text.endswith('"') or len(tok.text) < 2:
                raise self.error("phrase has no closing '\"'", tok)
            words = tuple(re.findall(r"\w+", tok.text[1:-1]))
            if not words:
                raise self.error("phrase has no words", tok)
            return Phrase(words)
        if tok.kind == "word":
            self.take()
            return self.word(tok)
        if tok.kind == "rparen":
            raise self.error(
                "')' without a matching '('"
                if self.i == 0 or self.tokens[self.i - 1].kind != "lparen"
                else "empty '()'",
                tok,
            )
        raise self.error(f"{tok.text!r} where a word, phrase or '(' was expected", tok)

    def word(self, tok: _Tok) -> Node:
        text = tok.text
        if text.endswith("*"):
            stem = text[:-1]
            if "*" in stem or not re.fullmatch(r"\w+", stem):
                raise self.error(f"{text!r}: a wildcard is one '*' at the end of a word", tok)
            if len(stem) < MIN_PREFIX:
                raise self.error(
                    f"{text!r}: a wildcard needs at least {MIN_PREFIX} letters before '*'", tok
                )
            return Prefix(stem)
        words = re.findall(r"\w+", text)
        if not words:
            raise self.error(f"{text!r} has no letters or digits", tok)
        if len(words) > 1:  # e.g. cease-fire: the parts, adjacent
            return Phrase(tuple(words))
        return Term(words[0])


def _positional(node: Node) -> bool:
    if isinstance(node, Term | Prefix | Phrase | Near):
        return True
    if isinstance(node, Meta) and node.key == "country":  # the country's names are words
        return True
    if isinstance(node, Or):
        return all(_positional(c) for c in node.children)
    if isinstance(node, FieldScope):
        return _positional(node.child)
    return False


@lru_cache(maxsize=262_144)
def parse_query(query: str) -> Node:
    """The AST of `query`, or `QueryError` saying what is wrong and at which column.

    Cached: a query is parsed when its watchlist is validated and again when compiled.
    """
    node = _Parser(query).parse()
    if not has_positive_term(node):
        raise QueryError(
            "query must contain at least one word or phrase that is not negated", query, 1
        )
    return node


def has_positive_term(node: Node) -> bool:
    if isinstance(node, Term | Prefix | Phrase | Near):
        return True
    if isinstance(node, Meta) and node.key == "country":
        return True
    if isinstance(node, And):
        return any(has_positive_term(c) for c in node.children)
    if isinstance(node, Or):
        return all(has_positive_term(c) for c in node.children)
    if isinstance(node, FieldScope):
        return has_positive_term(node.child)
    return False


def countries_of(node: Node) -> set[str]:
    """The `country:` codes a query tests."""
    if isinstance(node, Meta):
        return {node.value} if node.key == "country" else set()
    if isinstance(node, And | Or):
        return set().union(*(countries_of(c) for c in node.children))
    if isinstance(node, Not | FieldScope):
        return countries_of(node.child)
    if isinstance(node, Near):
        return countries_of(node.left) | countries_of(node.right)
    return set()
