"""The pure parts of the chaos harness (bench/chaos.py): the fault schedule and the
exactly-once comparisons. The campaign itself runs real servers (`make chaos`)."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest

from bench.chaos import (
    ENGINE_OUTAGE,
    KILL_INDEXER,
    KILL_WORKER,
    MIN_GAP_S,
    RESTART_BROKER,
    WEBHOOK_OUTAGE,
    Delivery,
    Fault,
    build_schedule,
    check_deliveries,
    compare_ids,
    parse_delivery,
    summary_line,
    validate_schedule,
)


def test_schedule_holds_every_fault_kind_the_requested_number_of_times() -> None:
    faults = build_schedule(360, seed=1, kills=3, broker_restarts=2, outage_s=60)
    kinds = Counter(f.kind for f in faults)
    assert kinds == {
        KILL_WORKER: 3,
        KILL_INDEXER: 3,
        RESTART_BROKER: 2,
        ENGINE_OUTAGE: 1,
        WEBHOOK_OUTAGE: 1,
    }
    outages = [f for f in faults if f.kind in (ENGINE_OUTAGE, WEBHOOK_OUTAGE)]
    assert all(f.down_s == 60 for f in outages)


def test_schedule_is_in_time_order_and_every_fault_ends_inside_the_replay() -> None:
    faults = build_schedule(360, seed=4)
    assert [f.at for f in faults] == sorted(f.at for f in faults)
    assert all(f.at >= 0 and f.ends <= 360 for f in faults)


def test_worker_kills_alternate_between_the_workers() -> None:
    kills = [f.target for f in build_schedule(600, seed=2, kills=4) if f.kind == KILL_WORKER]
    assert kills == ["worker0", "worker1", "worker0", "worker1"]


def test_faults_on_one_component_leave_it_time_to_come_back() -> None:
    faults = build_schedule(360, seed=3, kills=3, broker_restarts=2)
    by_target: dict[str, list[Fault]] = {}
    for f in faults:
        by_target.setdefault(f.target, []).append(f)
    for same in by_target.values():
        for prev, nxt in itertools.pairwise(same):
            assert nxt.at >= prev.ends + MIN_GAP_S


def test_the_same_seed_gives_the_same_schedule_and_another_seed_moves_it() -> None:
    assert build_schedule(360, seed=7) == build_schedule(360, seed=7)
    assert build_schedule(360, seed=7) != build_schedule(360, seed=8)


def test_a_replay_too_short_for_the_outages_is_refused_naming_the_minimum() -> None:
    with pytest.raises(ValueError, match=r"duration 100 s is too short .* at least 167\.7 s"):
        build_schedule(100, outage_s=60)


def test_a_bad_fault_count_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="kills=-1"):
        build_schedule(360, kills=-1)


def test_overlapping_faults_on_one_component_are_refused() -> None:
    faults = [Fault(10, KILL_INDEXER, "indexer", 3), Fault(20, KILL_INDEXER, "indexer", 3)]
    with pytest.raises(ValueError, match="faults on indexer overlap"):
        validate_schedule(faults, 100)


def test_a_fault_that_ends_after_the_replay_is_refused() -> None:
    with pytest.raises(ValueError, match="not inside the replay of 100 s"):
        validate_schedule([Fault(50, ENGINE_OUTAGE, "engine", 60)], 100)


def test_ids_found_once_each_pass() -> None:
    check = compare_ids({"a", "b"}, {"a": 1, "b": 1})
    assert check.ok and (check.expected, check.found) == (2, 2)


def test_missing_unexpected_and_repeated_ids_are_each_counted() -> None:
    check = compare_ids({"a", "b", "c"}, {"a": 1, "b": 3, "x": 1})
    assert not check.ok
    assert (check.missing, check.unexpected, check.duplicates, check.extra_copies) == (1, 1, 1, 2)
    assert check.missing_sample == ("c",)
    assert check.unexpected_sample == ("x",)
    assert check.duplicate_sample == ("b",)


def _alert_body(alert_id: str) -> bytes:
    return json.dumps({"type": "alert", "alert": {"id": alert_id}}).encode()


def test_each_alert_delivered_once_under_its_own_key_passes() -> None:
    deliveries = [parse_delivery("/h", k, _alert_body(k)) for k in ("a1", "a2")]
    check = check_deliveries(deliveries, {"a1", "a2"})
    assert check.ok and check.requests == 2 and check.digests == 0


def test_a_key_received_twice_fails_the_delivery_check() -> None:
    deliveries = [parse_delivery("/h", k, _alert_body(k)) for k in ("a1", "a2", "a1")]
    check = check_deliveries(deliveries, {"a1", "a2"})
    assert not check.ok
    assert check.keys.duplicates == 1 and check.alerts.duplicates == 1


def test_alerts_inside_a_digest_count_as_delivered() -> None:
    digest = json.dumps({"type": "digest", "count": 2, "alerts": [{"id": "a2"}, {"id": "a3"}]})
    deliveries = [
        parse_delivery("/h", "a1", _alert_body("a1")),
        parse_delivery("/h", "digest-1", digest.encode()),
    ]
    check = check_deliveries(deliveries, {"a1", "a2", "a3"})
    assert check.ok and check.digests == 1


def test_an_alert_missing_at_the_receiver_fails_the_delivery_check() -> None:
    check = check_deliveries([parse_delivery("/h", "a1", _alert_body("a1"))], {"a1", "a2"})
    assert not check.ok and check.alerts.missing_sample == ("a2",)


def test_a_key_that_is_not_the_alert_id_or_a_foreign_body_fails_the_check() -> None:
    wrong_key = parse_delivery("/h", "other", _alert_body("a1"))
    foreign = parse_delivery("/h", "k", b"not json")
    assert foreign == Delivery("/h", "k", "invalid", ())
    assert not check_deliveries([wrong_key], {"a1"}).ok
    assert check_deliveries([wrong_key, foreign], {"a1"}).mismatched == 2


def test_the_summary_line_names_the_failed_checks() -> None:
    ok = {"found": 2, "expected": 2, "missing": 0, "unexpected": 0, "duplicates": 0, "ok": True}
    bad = {**ok, "found": 1, "missing": 1, "ok": False}
    schedule = [{"at": 1.0}, {"at": 2.0}]
    result = {
        "n": 2,
        "schedule": schedule,
        "faults_injected": 2,
        "checks": {"articles": ok, "signals": bad},
    }
    line = summary_line(result)
    assert line.startswith("chaos: FAIL; n=2; faults injected 2/2")
    assert "signals 1/2 (missing 1" in line and line.endswith("failed: signals")
    assert summary_line({**result, "checks": {"articles": ok}}).startswith("chaos: PASS")


def test_the_summary_line_says_when_the_groups_had_not_caught_up() -> None:
    ok = {"found": 1, "expected": 1, "missing": 0, "unexpected": 0, "duplicates": 0, "ok": True}
    result = {
        "n": 1,
        "checks": {"articles": ok},
        "converged_at_s": None,
        "lag_at_end": {"worker_group": 12, "indexer_group": 0},
    }
    assert "not caught up when checked (lag: workers 12, indexer 0)" in summary_line(result)
    assert "not caught up" not in summary_line({**result, "converged_at_s": 10.0})
