"""Language of an article, constrained to the region's languages plus English.

py3langid separates Albanian, English and the Slavic languages well, but Serbian,
Croatian, Bosnian and Montenegrin are one pluricentric language to it (its guesses
among them are near coin flips), so:

* Cyrillic text is Serbian or Macedonian; the letters decide when they can
  (ѓ ќ ѕ are Macedonian only, ђ ћ Serbian only), py3langid otherwise.
* Latin text is classified among sr/bs/hr/sq/en; a BCMS guess defers to the
  source's configured language when that is one of them (a Montenegrin outlet's
  article stays "cnr" however the model votes).
* Serbian gets its script: "sr-Cyrl" or "sr-Latn" by the share of Cyrillic letters.
* Short texts and low-confidence guesses take the configured language.

The model (about 1 s to load) is loaded on first use, never at import time.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Protocol

REGION_LANGUAGES = ("sr", "mk", "bs", "hr", "sq", "en")
BCMS = frozenset({"sr", "sr-Latn", "sr-Cyrl", "bs", "hr", "cnr"})
MIN_LETTERS = 20
CONFIDENT = 0.9
SAMPLE_CHARS = 300
"""Only the start of a text is classified: a few sentences decide the language as
well as the whole article does, and the cost of py3langid grows with length."""

_MK_ONLY = re.compile("[ѓќѕЃЌЅѐѝЀЍ]")
_SR_ONLY = re.compile("[ђћЂЋ]")
_NON_LETTERS = re.compile(r"[\W\d_]+")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_lock = threading.Lock()


class _Ranker(Protocol):
    """What we use of py3langid's LanguageIdentifier (py3langid ships no types)."""

    def rank(self, text: str) -> list[tuple[str, float]]: ...


@lru_cache(maxsize=1)
def _identifier() -> _Ranker:
    """py3langid constrained to REGION_LANGUAGES, loaded once per process."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    with _lock:
        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        ident.set_languages(list(REGION_LANGUAGES))
    ranker: _Ranker = ident
    return ranker


def _with_script(lang: str, cyr: float) -> str:
    if lang in ("sr", "sr-Latn", "sr-Cyrl"):
        return "sr-Cyrl" if cyr >= 0.5 else "sr-Latn"
    return lang


def _classify(text: str, langs: tuple[str, ...]) -> tuple[str, float]:
    """Best of `langs` with its probability renormalised over `langs`."""
    ranked = [(str(lang), float(p)) for lang, p in _identifier().rank(text) if lang in langs]
    total = sum(p for _, p in ranked) or 1.0
    lang, prob = ranked[0]
    return lang, prob / total


def detect_language(text: str, configured: str = "und") -> str:
    """Language tag of `text`: "sr-Cyrl", "sr-Latn", "mk", "bs", "hr", "cnr", "sq", "en" or "und"."""
    text = text[:SAMPLE_CHARS]
    letters = len(_NON_LETTERS.sub("", text))  # regexes, not per-character Python loops: hot path
    cyr = len(_CYRILLIC.findall(text)) / letters if letters else 0.0
    fallback = _with_script(configured or "und", cyr)
    if letters < MIN_LETTERS:
        return fallback
    if cyr >= 0.5:
        mk = len(_MK_ONLY.findall(text))
        sr = len(_SR_ONLY.findall(text))
        if mk and not sr:
            return "mk"
        if sr and not mk:
            return "sr-Cyrl"
        lang, prob = _classify(text, ("sr", "mk"))
        if prob >= CONFIDENT:
            return "mk" if lang == "mk" else "sr-Cyrl"
        return fallback if configured in ("sr", "sr-Cyrl", "mk") else "und"
    lang, prob = _classify(text, ("sr", "bs", "hr", "sq", "en"))
    if lang in BCMS:
        if configured in BCMS:
            return fallback
        return _with_script(lang, cyr) if prob >= CONFIDENT else fallback
    return lang if prob >= CONFIDENT else fallback
