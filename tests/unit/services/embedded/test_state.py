"""TrackedState reports exactly what a batch changed so only that is persisted."""

from __future__ import annotations

from services.embedded.state import TrackedState


def test_changes_and_deletes_are_reported_once() -> None:
    st = TrackedState({"a": 1, "b": 2})
    st["c"] = 3
    del st["a"]
    assert st.take_changes() == ({"c": 3}, {"a"})
    assert st.take_changes() == ({}, set())
    assert dict(st) == {"b": 2, "c": 3}


def test_reads_are_not_changes_assignments_are() -> None:
    # Detectors read-modify-write whole values (as Faust tables require).
    st = TrackedState({"burst:MK": {"n": 1}})
    value = dict(st["burst:MK"])
    assert st.take_changes() == ({}, set())
    value["n"] += 1
    st["burst:MK"] = value
    assert st.take_changes() == ({"burst:MK": {"n": 2}}, set())


def test_failed_write_puts_changes_back() -> None:
    st = TrackedState()
    st["x"] = 1
    changed, deleted = st.take_changes()
    st.restore_changes(changed, deleted)
    assert st.take_changes() == ({"x": 1}, set())
