"""Which Western Balkans countries an article mentions.

A deliberately simple matcher: country names, their common inflected forms and
capitals in English, Serbian/Croatian/Bosnian/Montenegrin, Macedonian and Albanian,
matched as word prefixes on `textfold.fold` output (so Cyrillic and Latin spellings,
with or without diacritics, match the same pattern). It answers "is this country
talked about", not "is this article about it"; detectors weigh it further.

Ambiguities handled on purpose: "Republika Srpska" is Bosnia and Herzegovina, not
Serbia; Serbian adjectives ("srpski") are not counted as mentions of Serbia because
they are just as common about Serbs in Bosnia, Kosovo or Montenegro.
"""

from __future__ import annotations

import re

from hybridwatch.textfold import fold

# Patterns are written for folded text: lowercase ASCII, Cyrillic transliterated.
_PATTERNS: dict[str, tuple[str, ...]] = {
    "RS": (
        r"serbi(?:a|e|an|ja|je|ji|ju|jom|a's)?", r"srbij\w*", r"serbis[eë]?", r"serbin[eë]?",
        r"beograd\w*", r"belgrad\w*",
    ),
    "MK": (
        r"(?:north\s+|severn\w*\s+|sjevern\w*\s+)?macedoni\w*", r"makedonij\w*", r"makedoni(?:a|e|ji)",
        r"maqedoni\w*", r"skopj\w*", r"skoplj\w*", r"shkup\w*",
    ),
    "BA": (
        r"bosni\w*", r"bosn[aeuo]", r"bosnj[eë]s?", r"bih", r"herzegovin\w*", r"hercegovin\w*",
        r"sarajev\w*", r"saraev\w*", r"republik\w*\s+srpsk\w*",
    ),
    "XK": (r"kosov\w*", r"pristin\w*", r"prishtin\w*"),
    "ME": (
        r"montenegr\w*", r"crn(?:a|e|oj|u|om|i)\s+gor\w*", r"crnogor\w*", r"podgoric\w*",
        r"mal(?:i|it|in)\s+(?:i|e|te)\s+zi",
    ),
    "HR": (r"croati\w*", r"hrvatsk\w*", r"kroaci\w*", r"zagreb\w*"),
    "AL": (
        r"albani\w*", r"albanij\w*", r"shqiperi\w*", r"shqipt\w*",
        r"tiran(?:a|e|es|en|i|u|om)",
    ),
}  # fmt: skip

_NAMES = {code: f"c_{code}" for code in _PATTERNS}
# One leading \b outside the alternation: the engine rejects the many positions
# inside words at once instead of trying every branch there (hot path, ~4x faster).
_REGEX = re.compile(
    r"\b(?:"
    + "|".join(rf"(?P<{_NAMES[code]}>(?:{'|'.join(pats)})\b)" for code, pats in _PATTERNS.items())
    + ")"
)


def countries_in_folded(folded: str) -> tuple[str, ...]:
    """Countries mentioned in already-folded text, sorted."""
    found = {m.lastgroup[2:] for m in _REGEX.finditer(folded) if m.lastgroup}
    return tuple(sorted(found))


def countries_mentioned(text: str) -> tuple[str, ...]:
    """Countries mentioned in `text` (any script), sorted ISO codes."""
    return countries_in_folded(fold(text))
