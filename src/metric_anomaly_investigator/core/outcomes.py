"""Typed outcomes of actions: what a step established, as the analyst reads it.

An action returns its outcome on :attr:`~.models.StepResult.outcome` (not saved: the record
keeps ``data``, the outcome's fields as JSON). The autopilot reads outcomes, never ``data``'s
keys or the findings' prose. One type per concept; this module imports no other part of mai.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Outcome(BaseModel):
    """Base of every action's outcome: frozen, and its fields are the step's saved data."""

    model_config = ConfigDict(frozen=True)

    def as_data(self) -> dict[str, object]:
        return self.model_dump(mode="json")


class SegmentTest(Outcome):
    """``statistical_test``: a segment's metric during the anomaly window vs before it (or vs
    the rest of the traffic, both indexed to their baseline)."""

    metric: str
    segment: dict[str, str]
    tested: dict[str, str]  # the segment's stable part when a value of it replaced others
    compare_to: str
    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None
    rel_diff: float | None  # (during - before) / |before|
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # Welch's t
    mannwhitney_p: float | None
    effect_size: float | None  # Hedges' g
    significant: bool
    # the smallest share of a segment found so far lying inside this one (1.0: inside it)
    holds_found: float | None = None

    def moved(self, direction: str, alpha: float = 0.05) -> bool:
        """Whether it moved significantly in ``direction`` ("drop" or "spike")."""
        return (
            self.rel_diff is not None
            and self.p_value is not None
            and self.p_value < alpha
            and (self.rel_diff < 0) == (direction == "drop")
        )
