"""Article risk: how the signals of one article combine into `risk` in [0, 1].

Why noisy-OR: signals are (roughly) independent pieces of evidence, so the
probability that *none* of them is right is the product of their complements.
One strong signal (a narrative rule of weight 0.75) flags an article on its own,
two weak ones (0.3 + 0.3 -> 0.51) flag it together, and adding a signal never
lowers the risk.

Calibration: rule weights in the packs are set so that a score of 0.5 means "an
analyst would want to see this" - one unambiguous narrative phrase, or two
independent weaker cues - which is why `detectors.flag_threshold` defaults to 0.5.
Refutation cues scale a hit by 0.35, so a debunked claim stays below the
threshold. Per-detector weights scale a signal's score before combining; context
detectors that describe *where* or *when* something was published rather than
*what* it says count for less than content detectors.

The weights were chosen on the dev files (validation, never training) by a small
grid over the narrative and learned weights and the learned detector's `min_score`,
maximising F1 with every language's neutral false-flag rate at most 0.03:
narrative 0.8 (its rules are hand-weighted for recall; alone they over-flag ordinary
reporting on the same subjects), learned 0.8 (same recall on dev as 1.0, two fewer
Bosnian false flags: the concept model's weak hits added to weak pack hits), learned
signals below 0.4 not emitted. docs/detectors.md,
"Scoring", has the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hybridwatch.events import Signal

DETECTOR_WEIGHTS: Mapping[str, float] = {
    "narrative": 0.8,
    "claims": 1.0,
    "learned": 0.8,
    "reputation": 0.5,
    "threat": 0.0,
}
"""Scale per detector; detectors not listed weigh 1.0."""


def combine_risk(
    signals: Sequence[Signal], weights: Mapping[str, float] = DETECTOR_WEIGHTS
) -> float:
    """Noisy-OR of weighted signal scores, in [0, 1]."""
    p = 1.0
    for s in signals:
        w = weights.get(s.detector, 1.0)
        p *= 1.0 - min(max(s.score * w, 0.0), 1.0)
    return min(max(1.0 - p, 0.0), 1.0)
