"""Hypothesis profiles for the property-based fuzz tests.

`ci` (default, inside `make test`): a short campaign, no example database written.
`fuzz` (`make fuzz`): HW_FUZZ_EXAMPLES examples per property (default 20,000), the
example database in .hybridwatch/hypothesis so findings are replayed next time.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci", max_examples=120, deadline=2000, database=None, suppress_health_check=_SLOW_OK
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("HW_FUZZ_EXAMPLES", "20000")),
    deadline=5000,
    database=DirectoryBasedExampleDatabase(".hybridwatch/hypothesis"),
    suppress_health_check=_SLOW_OK,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
