"""Index templates shared by Elasticsearch and OpenSearch (one set for both engines).

Why generated in Python rather than kept as static JSON: the `hw_folded` analyzer
must fold text exactly like `hybridwatch.textfold.fold` (Cyrillic -> Latin, diacritics
removed), so that a query typed in either script finds articles in either script —
in our API *and* for an analyst typing into Grafana or the engine's own console. Its
character map is built from textfold's own tables, so the two cannot drift apart.

Indices are monthly by *event time* (`<prefix>articles-YYYY.MM` by `published`,
signals and alerts by `event_time`), never by processing time or rollover: an event
always lands in the same index, so with document id = event id a replay overwrites
instead of duplicating. Retention is a lifecycle policy (ILM on Elasticsearch, ISM on
OpenSearch when its index-management plugin is installed); see docs/search.md.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from hybridwatch.textfold import _CYR_TO_LAT, _LATIN_SPECIAL

KINDS = ("articles", "signals", "alerts", "triage")
RETAINED_KINDS = ("articles", "signals", "alerts")
"""Kinds the retention policy deletes after RETENTION_DAYS; analysts' triage verdicts
are kept (they are evaluation and training data)."""
SINGLE_INDEX_KINDS = ("triage",)
"""Kinds kept in one index (`<prefix>triage-all`) instead of monthly ones: a verdict's
id is its target's, so an update must land on the same document whatever its time."""
RETENTION_POLICY = "hw-retention"
RETENTION_DAYS = 400
"""Delete an index this many days after it was created (a monthly index is written for
about a month, so every event stays searchable for at least a year)."""

TEMPLATE_VERSION = 3

REFRESH_INTERVAL = {"articles": "5s", "signals": "1s", "alerts": "1s", "triage": "1s"}
"""How soon a write becomes searchable. Articles are the bulk of the volume and each
refresh writes a new segment that must later be merged: 5 s instead of 1 s cut the
engine's CPU per article by about a quarter (bench/index_bench.py). Signals and alerts,
which analysts watch live, stay at 1 s."""


def index_name(prefix: str, kind: str, when: datetime) -> str:
    """The monthly index an event of `kind` with event time `when` belongs to."""
    if kind in SINGLE_INDEX_KINDS:
        return f"{prefix}{kind}-all"
    return f"{prefix}{kind}-{when.year:04d}.{when.month:02d}"


def index_pattern(prefix: str, kind: str) -> str:
    return f"{prefix}{kind}-*"


def _fold_mappings() -> list[str]:
    """`mapping` char-filter rules equal to textfold's per-character table.

    The char filter runs before the `lowercase` token filter, so upper-case letters
    need their own rules (Љ -> lj); a rule may map to nothing (ъ, ь).
    """
    rules: dict[str, str] = {}
    for table in (_CYR_TO_LAT, _LATIN_SPECIAL):
        for src, dst in table.items():
            for variant in {src, src.upper()}:
                if len(variant) == 1:
                    rules[variant] = dst
    return [_escape(src) + "=>" + _escape(dst) for src, dst in sorted(rules.items())]


def _escape(text: str) -> str:
    """Spell every character as a \\uXXXX escape, which the mapping syntax decodes, so
    spaces, quotes and invisible characters survive the rule parser unchanged."""
    return "".join("\\u" + format(ord(c), "04x") for c in text)


ANALYSIS: dict[str, Any] = {
    "char_filter": {
        "hw_script_fold": {"type": "mapping", "mappings": _fold_mappings()},
    },
    "tokenizer": {
        # The same token boundaries as SQLite FTS5's unicode61 tokenizer and the query
        # splitter in services/store/sqlite.py: a token is a run of letters and digits.
        "hw_alnum": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"},
    },
    "analyzer": {
        "hw_folded": {
            "type": "custom",
            "char_filter": ["hw_script_fold"],
            "tokenizer": "hw_alnum",
            "filter": ["lowercase", "asciifolding"],
        },
    },
}

_KEYWORD = {"type": "keyword"}
_LONG_KEYWORD = {"type": "keyword", "ignore_above": 2048}
_DATE = {"type": "date_nanos", "format": "strict_date_optional_time_nanos||epoch_millis"}
"""Event times keep their microseconds (as SQLite does), so ordering and half-open
windows agree to the microsecond. date_nanos covers 1970..2262; an event outside that
range is refused by the engine and lands in the dead-letter topic with the reason."""


def _text_field() -> dict[str, Any]:
    """Human text: standard analyzer, plus an English sub-field.

    `english` is the only language analyzer both engines ship that fits our feeds
    (en articles); Serbian, Croatian, Bosnian, Montenegrin, Macedonian and Albanian
    have no stemmer in either engine. Script- and diacritic-insensitive search goes
    through `text_latn` instead (the contract's `fold(title + "\n" + text)`, analysed
    with `hw_folded`): a `folded` sub-field on title and text would index the very
    same tokens a second time, which cost about a third of the engine's indexing CPU
    (bench/index_bench.py; docs/search.md "Indexing cost").
    """
    return {
        "type": "text",
        "analyzer": "standard",
        "fields": {"en": {"type": "text", "analyzer": "english"}},
    }


ARTICLE_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "schema_version": {"type": "integer"},
        "id": _KEYWORD,
        "url": _LONG_KEYWORD,
        "title": _text_field(),
        "text": _text_field(),
        "published": _DATE,
        "published_estimated": {"type": "boolean"},
        "fetched": _DATE,
        "language": _KEYWORD,
        "source": {
            "properties": {
                "id": _KEYWORD,
                "outlet": _LONG_KEYWORD,
                "domain": _LONG_KEYWORD,
                "country": _KEYWORD,
                "tags": _KEYWORD,
            }
        },
        "countries": _KEYWORD,
        "text_latn": {"type": "text", "analyzer": "hw_folded"},
    },
}

SIGNAL_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "schema_version": {"type": "integer"},
        "id": _KEYWORD,
        "article_id": _KEYWORD,
        "detector": _KEYWORD,
        "country": _KEYWORD,
        "narrative": _KEYWORD,
        "severity": _KEYWORD,
        "score": {"type": "float"},
        "evidence": {
            "properties": {
                "field": _KEYWORD,
                "start": {"type": "integer"},
                "end": {"type": "integer"},
                "text": {"type": "text", "analyzer": "hw_folded"},
                "rule": _KEYWORD,
            }
        },
        "event_time": _DATE,
        # free-form per-detector details: kept in _source, never indexed, so one
        # detector's field types can never make another detector's documents fail
        "details": {"type": "object", "enabled": False},
    },
}

ALERT_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "schema_version": {"type": "integer"},
        "id": _KEYWORD,
        "subscription_id": _KEYWORD,
        "signals": _KEYWORD,
        "country": _KEYWORD,
        "severity": _KEYWORD,
        "summary": {"type": "text", "analyzer": "standard"},
        "event_time": _DATE,
        "replay": {"type": "boolean"},
    },
}

TRIAGE_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": _KEYWORD,
        "target": _KEYWORD,
        "target_id": _KEYWORD,
        "article_id": _KEYWORD,
        "status": _KEYWORD,
        "note": {"type": "text", "analyzer": "hw_folded"},
        "analyst": _KEYWORD,
        "updated": _DATE,
    },
}

MAPPINGS = {
    "articles": ARTICLE_MAPPING,
    "signals": SIGNAL_MAPPING,
    "alerts": ALERT_MAPPING,
    "triage": TRIAGE_MAPPING,
}


def index_templates(
    prefix: str, engine: str, policy: str | None = None
) -> dict[str, dict[str, Any]]:
    """Composable index templates (`PUT _index_template/<name>`) for every kind.

    Both engines take the same body; the only engine-specific line is the ILM policy
    name on Elasticsearch (OpenSearch's ISM attaches policies by index pattern instead),
    set only when `policy` names an installed policy: a node without ILM refuses the
    `index.lifecycle.name` setting.
    """
    out: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        settings: dict[str, Any] = {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "refresh_interval": REFRESH_INTERVAL[kind],
            "analysis": copy.deepcopy(ANALYSIS),
        }
        if engine == "elasticsearch" and policy and kind in RETAINED_KINDS:
            settings["index.lifecycle.name"] = policy
        out[f"{prefix}{kind}"] = {
            "index_patterns": [index_pattern(prefix, kind)],
            "priority": 200,
            "version": TEMPLATE_VERSION,
            "template": {"settings": settings, "mappings": copy.deepcopy(MAPPINGS[kind])},
            "_meta": {"owner": "hybridwatch", "kind": kind},
        }
    return out


def ilm_policy() -> dict[str, Any]:
    """Elasticsearch ILM: keep monthly indices hot, delete them after RETENTION_DAYS."""
    return {
        "policy": {
            "phases": {
                "hot": {"min_age": "0ms", "actions": {"set_priority": {"priority": 100}}},
                "delete": {"min_age": f"{RETENTION_DAYS}d", "actions": {"delete": {}}},
            },
            "_meta": {"owner": "hybridwatch"},
        }
    }


def ism_policy(prefix: str) -> dict[str, Any]:
    """OpenSearch ISM: the same retention, attached to new indices by pattern."""
    return {
        "policy": {
            "description": f"hybridwatch retention: delete after {RETENTION_DAYS} days",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [],
                    "transitions": [
                        {
                            "state_name": "delete",
                            "conditions": {"min_index_age": f"{RETENTION_DAYS}d"},
                        }
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [
                {
                    "index_patterns": [index_pattern(prefix, k) for k in RETAINED_KINDS],
                    "priority": 100,
                }
            ],
        }
    }
