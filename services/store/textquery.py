"""Free-text query syntax, shared by both stores (so they answer the same).

A query is folded with `hybridwatch.textfold.fold` (lowercase ASCII-Latin, Cyrillic
transliterated, diacritics removed), so "Референдумот", "referendumot" and
"REFERENDUMOT" are the same query. It is then read as clauses, ALL of which must
match the folded article text (`text_latn` = fold(title + "\\n" + text)):

- a word, e.g. `referendum`: matches a token that is one of the word's *inflected
  forms* (see `forms`): the word and its base with Serbian/Croatian/Bosnian/
  Montenegrin case endings, Macedonian definite articles and Albanian definite and
  case suffixes. `referendum` finds "референдумот", "референдума", "referendumit";
  `referendumot` finds "referendum" too (a known ending is stripped first).
- a prefix, `referend*`: a token starting with "referend".
- a phrase in double quotes, `"izbori u srbiji"`: these exact tokens (folded, not
  inflected) one after the other. A one-word phrase is an exact word: `"putin"`.

Why expansion at query time rather than a stemmer at index time: neither engine
ships a stemmer for these languages, and a suffix-stripping analyzer would re-index
every token (bench/index_bench.py showed a second indexed copy of the tokens costs
about a third of the engine's CPU). Expanding a word into its ~60 possible forms
costs nothing at index time, gives byte-for-byte the same answer on SQLite FTS5
(`fts5_match`) and on the engine (`engine_clauses`), and never conflates two words
whose stems collide, because only forms of the *query's* base are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hybridwatch.textfold import fold

SUFFIXES: tuple[str, ...] = (
    # Serbian / Croatian / Bosnian / Montenegrin: noun and adjective case endings
    "a", "e", "i", "o", "u", "om", "em", "ama", "ima", "ovi", "ova", "ove", "ovima",
    "evi", "eva", "eve", "evima", "og", "oga", "ome", "omu", "ih", "im", "ega", "emu",
    "ski", "ska", "sko", "skog", "skom", "skoj", "ske", "skih",
    # Macedonian definite article (-от -та -то -те, after a vowel or in the plural)
    "ot", "ta", "to", "te", "ite", "ata", "oto", "ovite", "ovi",
    # Albanian definite and case suffixes (folded: ë -> e)
    "it", "ut", "in", "un", "en", "es", "se", "ne", "et", "ve", "eve", "ave", "ia",
    "ise", "ine", "ja", "je", "ri", "rit", "rin",
)  # fmt: skip
"""Endings appended to a word's base to form the tokens the word matches."""

STRIP: tuple[str, ...] = (
    "ovima", "evima", "ovite", "ama", "ima", "ite", "ata", "oto", "om", "em", "ot",
    "it", "a", "e", "i", "o", "u",
)  # fmt: skip
"""Endings removed from a query word to find its base (the longest that leaves
MIN_BASE letters). Only vowel-final case endings and unambiguous articles: a
consonant suffix such as Albanian -in would turn "putin" into "put"."""

MIN_BASE = 3
"""A base shorter than this is not expanded ("eu", "un" stay exact)."""

_WORD = re.compile(r"^[a-z]+$")
_TOKEN = re.compile(r"[^\W_]+\*?")
_PHRASE = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class Clause:
    """One condition on the article's folded tokens.

    kind "any": one of `tokens` occurs; "prefix": a token starts with `tokens[0]`;
    "phrase": `tokens` occur consecutively.
    """

    kind: str
    tokens: tuple[str, ...]


def _base(word: str) -> str:
    for end in sorted(STRIP, key=len, reverse=True):
        if word.endswith(end) and len(word) - len(end) >= MIN_BASE:
            return word[: -len(end)]
    return word


def forms(word: str) -> tuple[str, ...]:
    """Every token a folded query word matches, sorted (the word itself included)."""
    if not _WORD.match(word) or len(word) < MIN_BASE:
        return (word,)
    out = {word}
    for base in {word, _base(word)}:
        out.update(base + end for end in ("", *SUFFIXES))
    return tuple(sorted(out))


def parse(text: str) -> tuple[Clause, ...]:
    """The clauses of a free-text query (empty when it holds no letter or digit)."""
    folded = fold(text)
    clauses: list[Clause] = []
    rest: list[str] = []
    pos = 0
    for m in _PHRASE.finditer(folded):
        rest.append(folded[pos : m.start()])
        pos = m.end()
        words = tuple(t.rstrip("*") for t in _TOKEN.findall(m.group(1)))
        words = tuple(w for w in words if w)
        if words:
            clauses.append(Clause("phrase", words))
    rest.append(folded[pos:])
    for token in _TOKEN.findall(" ".join(rest)):
        if token.endswith("*"):
            clauses.append(Clause("prefix", (token[:-1],)))
        else:
            clauses.append(Clause("any", forms(token)))
    return tuple(clauses)


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def fts5_match(clauses: tuple[Clause, ...]) -> str:
    """An FTS5 MATCH expression for the clauses. Every token is quoted, so operators
    typed by a user (OR, NEAR, -) are searched for as words."""
    parts: list[str] = []
    for c in clauses:
        if c.kind == "prefix":
            parts.append(_quote(c.tokens[0]) + "*")
        elif c.kind == "phrase":
            parts.append(_quote(" ".join(c.tokens)))
        else:
            parts.append("(" + " OR ".join(_quote(t) for t in c.tokens) + ")")
    return " AND ".join(parts)


def engine_clauses(clauses: tuple[Clause, ...], field: str) -> list[dict[str, Any]]:
    """`bool.must` clauses for Elasticsearch/OpenSearch on a field analysed with
    `hw_folded` (whose tokens are exactly the folded tokens FTS5 sees)."""
    out: list[dict[str, Any]] = []
    for c in clauses:
        if c.kind == "prefix":
            out.append({"prefix": {field: c.tokens[0]}})
        elif c.kind == "phrase":
            out.append({"match_phrase": {field: " ".join(c.tokens)}})
        else:
            out.append({"terms": {field: list(c.tokens)}})
    return out


def highlight_terms(text: str) -> list[str]:
    """Folded tokens a page may highlight for this query (forms, prefixes, phrase words)."""
    out: list[str] = []
    for c in parse(text):
        out.extend(c.tokens)
    return out
