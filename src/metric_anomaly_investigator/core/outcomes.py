"""Typed outcomes of actions: what a step established, as the analyst reads it.

An action returns its outcome on :attr:`~.models.StepResult.outcome` (not saved: the record
keeps ``data``, the outcome's fields as JSON). The autopilot reads outcomes, never ``data``'s
keys or the findings' prose. One type per concept; this module imports no other part of mai.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Outcome(BaseModel):
    """Base of every action's outcome: frozen; its fields are in the step's saved data (which
    may add raw measurements beside them)."""

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


class AccountsProfiled(Outcome):
    """``profile_accounts``: a segment's users and events before vs during the window, the new
    accounts behind the change, and how it happened when the profile shows it."""

    segment: dict[str, str]  # as asked
    tested: dict[str, str]  # the accounts profiled (without a dimension changing hands)
    events_before: float  # events per day
    events_after: float
    existing_events_before: float  # events per day of the accounts seen before the window
    existing_events_after: float
    users_change: float | None  # relative changes, e.g. -0.31
    events_change: float | None
    per_user_change: float | None
    users_flat: bool  # events moved while the users behind them did not
    new_accounts: int  # active in the window, never seen before it
    new_share_of_increase: float | None  # the new accounts' part of the extra events (a rise)
    mechanism: str | None  # as recorded in the context, with its evidence
    evidence: str | None
    deployments_ruled_out: list[str]  # releases the new accounts only happen to run

    @property
    def events_without_users(self) -> bool:
        """Events moved while their users did not, and not through new accounts."""
        return self.users_flat and self.mechanism != "automated_traffic"

    def new_accounts_share(self) -> float | None:
        """The new accounts' part of the change: of the increase for a rise; for a drop, what
        the accounts seen before did not carry."""
        if self.new_share_of_increase is not None:
            return self.new_share_of_increase
        total = self.events_after - self.events_before
        existing = self.existing_events_after - self.existing_events_before
        return max(0.0, 1.0 - existing / total) if total else None


class SplitRow(Outcome):
    """One value of a split: its metric per day before and during, and its part of the change."""

    value: str
    before: float | None
    after: float | None
    change_pct: float | None
    share_of_change: float | None


class DimensionSplit(Outcome):
    """``segment_by_dimension``: one dimension's values before vs during the window, the value
    that moved most first (rows capped; the totals cover every value)."""

    metric: str
    dimension: str
    filters: dict[str, str]
    baseline: list[str]  # first and last day, ISO
    current: list[str]
    total_before: float
    total_after: float
    concentration: float
    rows: list[SplitRow]
