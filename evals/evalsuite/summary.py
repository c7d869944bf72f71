"""Pass rates: overall, and by split, style, scenario, case kind and evaluator."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from pydantic_evals.reporting import EvaluationReport, ReportCase, ReportCaseFailure

from metric_anomaly_investigator.warehouse.scenarios import GroundTruth

from .cases import EvalInput
from .evaluators import NA
from .outputs import EvalOutput

Report = EvaluationReport[EvalInput, EvalOutput, GroundTruth]
AnyCase = (
    ReportCase[EvalInput, EvalOutput, GroundTruth]
    | ReportCaseFailure[EvalInput, EvalOutput, GroundTruth]
)


@dataclass(frozen=True)
class Rate:
    passed: int
    total: int

    def __str__(self) -> str:
        pct = 100 * self.passed / self.total if self.total else 0.0
        return f"{self.passed}/{self.total} ({pct:.1f}%)"


def case_passed(case: AnyCase) -> bool:
    """A case passes when its task ran, no evaluator crashed and every assertion holds."""
    if isinstance(case, ReportCaseFailure):
        return False
    return (
        bool(case.assertions)
        and not case.evaluator_failures
        and all(a.value for a in case.assertions.values())
    )


def all_cases(report: Report) -> list[AnyCase]:
    return [*report.cases, *report.failures]


def pass_rate(report: Report, split: str | None = None) -> tuple[int, int]:
    """(cases that passed, cases), of one split or of all."""
    cases = [c for c in all_cases(report) if split is None or c.inputs.split == split]
    return sum(case_passed(c) for c in cases), len(cases)


def rates_by(report: Report, key: Callable[[EvalInput], str]) -> dict[str, Rate]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in all_cases(report):
        c = counts[key(case.inputs)]
        c[0] += case_passed(case)
        c[1] += 1
    return {k: Rate(p, t) for k, (p, t) in sorted(counts.items())}


def rates_by_evaluator(report: Report) -> dict[str, Rate]:
    """Each evaluator over the cases it applies to (a result reading "n/a" does not count); a
    case whose task failed counts against every evaluator of its kind."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for case in report.cases:
        for name, result in case.assertions.items():
            if result.reason == NA:
                continue
            counts[name][0] += bool(result.value)
            counts[name][1] += 1
        for failure in case.evaluator_failures:
            counts[failure.name][1] += 1
    if report.failures:
        counts["(task failed)"][1] += len(report.failures)
    return {k: Rate(p, t) for k, (p, t) in sorted(counts.items())}


def summary_lines(report: Report, label: str) -> list[str]:
    """The per-class pass rates and the overall line."""
    classes: list[tuple[str, dict[str, Rate]]] = [
        ("split", rates_by(report, lambda i: i.split)),
        ("kind", rates_by(report, lambda i: i.kind)),
        ("style", rates_by(report, lambda i: i.style)),
        ("scenario", rates_by(report, lambda i: i.scenario)),
        ("seed", rates_by(report, lambda i: "own" if i.seed is None else str(i.seed))),
        ("evaluator", rates_by_evaluator(report)),
    ]
    lines = []
    for title, rates in classes:
        width = max((len(k) for k in rates), default=0)
        lines.append(f"By {title}:")
        lines += [f"  {k:<{width}}  {r}" for k, r in rates.items()]
    took = [c.output.seconds for c in report.cases]
    if took:
        lines.append(
            f"Investigations: {len(took)}, {sum(took) / len(took):.1f} s each on average "
            f"(slowest {max(took):.1f} s), {sum(took):.0f} s in all, in the workers"
        )
    passed, total = pass_rate(report)
    pct = 100 * passed / total if total else 0.0
    lines.append(f"{passed}/{total} cases ({pct:.1f}%) with {label}")
    return lines


def failure_lines(report: Report) -> list[str]:
    """One line per failed assertion (its reason), per evaluator crash and per failed task."""
    lines = []
    for case in report.cases:
        for name, result in case.assertions.items():
            if not result.value:
                lines.append(f"  {case.name}: {name}: {result.reason}")
        for failure in case.evaluator_failures:
            lines.append(f"  {case.name}: {failure.name} crashed: {failure.error_message}")
    for failed in report.failures:
        lines.append(f"  {failed.name}: task failed: {failed.error_message}")
    return ["Failed checks:", *lines] if lines else []
