"""The index templates match the event contracts and fold text like hybridwatch.textfold."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from hybridwatch.events import Alert, Article, Signal
from hybridwatch.textfold import _CYR_TO_LAT, _LATIN_SPECIAL
from services.store import templates


def _decode(rule_side: str) -> str:
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m.group(1), 16)), rule_side)


@pytest.mark.parametrize(
    ("kind", "model"), [("articles", Article), ("signals", Signal), ("alerts", Alert)]
)
def test_every_contract_field_is_mapped_and_nothing_else(kind: str, model: type) -> None:
    mapping = templates.MAPPINGS[kind]
    assert mapping["dynamic"] == "strict"
    assert set(mapping["properties"]) == set(model.model_fields)


def test_nested_source_fields_are_mapped() -> None:
    from hybridwatch.events import Evidence, Source

    props = templates.ARTICLE_MAPPING["properties"]
    assert set(props["source"]["properties"]) == set(Source.model_fields)
    assert set(templates.SIGNAL_MAPPING["properties"]["evidence"]["properties"]) == set(
        Evidence.model_fields
    )


def test_the_fold_char_filter_holds_every_textfold_rule_in_both_cases() -> None:
    rules = dict(
        r.split("=>") for r in templates.ANALYSIS["char_filter"]["hw_script_fold"]["mappings"]
    )
    decoded = {_decode(k): _decode(v) for k, v in rules.items()}
    for table in (_CYR_TO_LAT, _LATIN_SPECIAL):
        for src, dst in table.items():
            assert decoded[src] == dst
            if len(src.upper()) == 1:
                assert decoded[src.upper()] == dst
    assert all(re.fullmatch(r"(\\u[0-9a-f]{4})+", k) for k in rules), "rules must be escaped"


def test_indices_are_monthly_by_event_time() -> None:
    assert (
        templates.index_name("hw-", "articles", datetime(2018, 9, 30, 23, 59, tzinfo=UTC))
        == "hw-articles-2018.09"
    )
    assert (
        templates.index_name("hw-", "signals", datetime(2018, 10, 1, tzinfo=UTC))
        == "hw-signals-2018.10"
    )


def test_the_templates_cover_their_indices_and_only_elasticsearch_names_an_ilm_policy() -> None:
    es = templates.index_templates("hw-", "elasticsearch", "hw-hw-retention")
    os_ = templates.index_templates("hw-", "opensearch", "hw-hw-retention")
    assert set(es) == set(os_) == {"hw-articles", "hw-signals", "hw-alerts", "hw-triage"}
    # analysts' verdicts are evaluation data: no retention policy deletes them
    assert "index.lifecycle.name" not in es["hw-triage"]["template"]["settings"]
    assert es["hw-articles"]["index_patterns"] == ["hw-articles-*"]
    assert es["hw-articles"]["template"]["settings"]["index.lifecycle.name"] == "hw-hw-retention"
    assert "index.lifecycle.name" not in os_["hw-articles"]["template"]["settings"]
    assert es["hw-articles"]["template"]["mappings"] == os_["hw-articles"]["template"]["mappings"]


def test_elasticsearch_templates_name_no_ilm_policy_when_none_is_installed() -> None:
    # a node without ILM refuses index.lifecycle.name (deploy/local/elasticsearch.sh's node)
    es = templates.index_templates("hw-", "elasticsearch", None)
    assert all("index.lifecycle.name" not in t["template"]["settings"] for t in es.values())


def test_retention_policies_delete_after_the_same_age() -> None:
    ilm = templates.ilm_policy()["policy"]["phases"]["delete"]
    ism = templates.ism_policy("hw-")["policy"]
    assert ilm["min_age"] == f"{templates.RETENTION_DAYS}d"
    assert (
        ism["states"][0]["transitions"][0]["conditions"]["min_index_age"]
        == f"{templates.RETENTION_DAYS}d"
    )
    assert ism["ism_template"][0]["index_patterns"] == [
        "hw-articles-*",
        "hw-signals-*",
        "hw-alerts-*",
    ]


def test_triage_verdicts_live_in_one_index_whatever_their_time() -> None:
    for when in (datetime(2018, 9, 30, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)):
        assert templates.index_name("hw-", "triage", when) == "hw-triage-all"
