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


def test_nested_values_read_for_mutation_count_as_changed() -> None:
    st = TrackedState({"burst:MK": {"n": 1}})
    st["burst:MK"]["n"] += 1
    changed, _ = st.take_changes()
    assert changed == {"burst:MK": {"n": 2}}


def test_failed_write_puts_changes_back() -> None:
    st = TrackedState()
    st["x"] = 1
    changed, deleted = st.take_changes()
    st.restore_changes(changed, deleted)
    assert st.take_changes() == ({"x": 1}, set())
