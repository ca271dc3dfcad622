"""Machine translation at training time: regional neutral news into English.

Why: the English sub-model learns claims against English news, but the English
news in train/ (DSLCC sentences) rarely speaks of the subjects the claims are
about - NATO, Kosovo, elections, the EU. Fitted on that alone it flags ordinary
English reporting on those subjects. The Serbian and Croatian neutral headlines and
articles of train/ speak of exactly those subjects; translated to English they
become hard negatives for the English sub-model (weighted less than native English,
since translated text reads unlike the real thing).

How: Apertium (Debian packages `apertium` and `apertium-hbs-eng`; GPL data that we
call as a tool and never copy), deterministic for a given package version, which the
weights file records. It runs only inside `hybridwatch train`, never in a runtime:
~12,000 words/s on one core is far too slow for every article at stream rate.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

SERBIAN_CYRILLIC = dict(
    zip(
        "абвгдђежзијклљмнњопрстћуфхцчџшАБВГДЂЕЖЗИЈКЛЉМНЊОПРСТЋУФХЦЧЏШ",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "đ",
            "e",
            "ž",
            "z",
            "i",
            "j",
            "k",
            "l",
            "lj",
            "m",
            "n",
            "nj",
            "o",
            "p",
            "r",
            "s",
            "t",
            "ć",
            "u",
            "f",
            "h",
            "c",
            "č",
            "dž",
            "š",
            "A",
            "B",
            "V",
            "G",
            "D",
            "Đ",
            "E",
            "Ž",
            "Z",
            "I",
            "J",
            "K",
            "L",
            "Lj",
            "M",
            "N",
            "Nj",
            "O",
            "P",
            "R",
            "S",
            "T",
            "Ć",
            "U",
            "F",
            "H",
            "C",
            "Č",
            "Dž",
            "Š",
        ],
        strict=True,
    )
)
"""Serbian Cyrillic to Gaj's Latin with diacritics (Apertium's hbs pair reads Latin)."""

PAIR = "hbs-eng"
REVERSE_MODE = "eng-hbs_SR"
HBS_LANGUAGES = frozenset({"sr-Cyrl", "sr-Latn", "sr", "hr", "bs", "cnr"})
PACKAGE = "apertium-hbs-eng"


class TranslatorMissing(RuntimeError):
    """Apertium or its hbs-eng pair is not installed."""


def to_latin(text: str) -> str:
    return "".join(SERBIAN_CYRILLIC.get(ch, ch) for ch in text)


def available() -> bool:
    return shutil.which("apertium") is not None and _pair_installed()


def _pair_installed() -> bool:
    try:
        out = subprocess.run(
            ["apertium", "-l"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    modes = out.split()
    return PAIR in modes and REVERSE_MODE in modes


def package_version() -> str:
    """The installed pair's Debian version, recorded in the weights file."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", PACKAGE],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def hbs_to_english(texts: Sequence[str]) -> list[str]:
    """Translate Serbian/Croatian/Bosnian texts (either script) to English, one per text."""
    return _apertium(PAIR, [to_latin(t) for t in texts])


def english_to_hbs(texts: Sequence[str]) -> list[str]:
    """Translate English texts to Serbian (Latin script), one per text."""
    return _apertium(REVERSE_MODE, list(texts))


def _apertium(mode: str, texts: Sequence[str]) -> list[str]:
    if not available():
        raise TranslatorMissing(
            f"`hybridwatch train` needs Apertium's {PAIR} pair: "
            f"apt-get install apertium {PACKAGE} (or pass --no-translate)"
        )
    lines = [t.replace("\r", " ").replace("\n", " ") for t in texts]
    proc = subprocess.run(
        ["apertium", "-u", "-f", "line", mode],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise TranslatorMissing(f"apertium {mode} failed: {proc.stderr.strip()[:300]}")
    out = proc.stdout.split("\n")
    if len(out) < len(lines):
        raise TranslatorMissing(f"apertium {mode} returned {len(out)} lines for {len(lines)} texts")
    return out[: len(lines)]
