"""The explicit detector registry (detectors/registry.py) lists every detector there is."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import detectors
from detectors.base import Detector, DetectorConfigError
from detectors.pipeline import DetectorSuite
from detectors.registry import DETECTORS, REGISTRY, build


def _detector_classes_defined_in_detectors() -> set[type[Detector]]:
    found: set[type[Detector]] = set()
    for info in pkgutil.iter_modules(detectors.__path__, "detectors."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Detector)
                and value is not Detector
                and value.__module__ == module.__name__
            ):
                found.add(value)
    return found


def test_every_detector_class_in_the_package_is_registered() -> None:
    missing = sorted(
        c.__qualname__ for c in _detector_classes_defined_in_detectors() - set(DETECTORS)
    )
    assert missing == [], f"add {missing} to DETECTORS in detectors/registry.py"


def test_names_map_to_their_classes_one_to_one() -> None:
    assert len(REGISTRY) == len(DETECTORS)
    assert all(REGISTRY[cls.name] is cls for cls in DETECTORS)


def test_the_default_suite_runs_every_registered_detector() -> None:
    suite = DetectorSuite.from_config()
    assert sorted(d.name for d in suite.detectors) == sorted(REGISTRY)


def test_an_unknown_detector_names_the_known_ones() -> None:
    with pytest.raises(DetectorConfigError, match=r"unknown detector 'nope' \(known: .*burst"):
        build("nope")


@pytest.mark.parametrize("options", [["min_count", 3], "fast", 7])
def test_options_that_are_not_a_mapping_name_the_detector(options: object) -> None:
    with pytest.raises(DetectorConfigError, match=r"detectors\.options\.burst: expected a mapping"):
        build("burst", options)  # type: ignore[arg-type]


def test_a_data_file_that_cannot_be_read_names_the_detector_option() -> None:
    with pytest.raises(
        DetectorConfigError, match=r"^detectors\.options\.reputation: .*nonexistent"
    ):
        build("reputation", {"watchlist_file": "/nonexistent/watchlist.yaml"})
