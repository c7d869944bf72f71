"""Root-cause localization: ours (core.rca) against RiskLoc (benchmarks/riskloc.py), side by side.

"Ours" is the localizer that names the investigation's segments: the drill-down
(core.segments.localize_segments) reports rca.localize's elements over its leaves, additive
and rate metrics alike, so a gain here is a gain in the reports.

    uv run python benchmarks/rca_benchmark.py [--quick] [--cases N] [--only NAME ...] [DIR ...]

Runs every generated cube family (benchmarks/cubes.py) on its tuning and its held-out split,
and every shared dataset in the contract-4 format (default: all under ``../shared/benchmarks/rca/``
relative to the repository), whose even-indexed cases (in case-id order) are its tuning split and
odd-indexed ones its held-out split; by default every 2nd case of each split is run
(``--every 1`` for all of them). Prints one row per set and split: cases, micro-F1 and TP/FP/FN
of both methods, and their summed per-case seconds (loading excluded). ``--quick`` runs 15 cases
per family split and every 4th shared case of each split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cubes
import riskloc

from metric_anomaly_investigator.core.rca import LocalizationResult, localize

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "benchmarks" / "rca"
MEASURE_COLUMNS = {"actual", "expected", "actual_num", "expected_num", "actual_den", "expected_den"}

Element = frozenset[tuple[str, str]]
Localizer = Callable[..., LocalizationResult]
METHODS: dict[str, Localizer] = {"ours": localize, "riskloc": riskloc.localize}


@dataclass(frozen=True)
class Labelled:
    leaves: pd.DataFrame
    dimensions: list[str]
    truth: set[Element]
    ratio: bool


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float = 0.0

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 1.0


def as_element(d: Mapping[str, object]) -> Element:
    return frozenset((str(k), str(v)) for k, v in d.items())


def load_labels(path: Path) -> dict[str, set[Element]]:
    labels: dict[str, set[Element]] = {}
    with path.open() as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                labels[str(row["case_id"])] = {as_element(rc) for rc in row["root_causes"]}
    return labels


def dimension_columns(df: pd.DataFrame) -> list[str]:
    """Text columns other than case_id and the measures."""
    return [
        c
        for c in df.columns
        if c != "case_id" and c not in MEASURE_COLUMNS and not pd.api.types.is_numeric_dtype(df[c])
    ]


def shared_cases(path: Path, split: str, every: int) -> Iterator[Labelled]:
    """Cases of a contract-4 dataset: even indices for "tuning", odd for "held-out"."""
    frame = pd.read_parquet(path / "cases.parquet")
    labels = load_labels(path / "labels.jsonl")
    dims_all = dimension_columns(frame)
    ratio = all(c in frame.columns for c in riskloc.RATIO_COLUMNS)
    first = 0 if split == "tuning" else 1
    for index, (case_id, leaves) in enumerate(frame.groupby("case_id", sort=True)):
        if index % 2 != first or (index // 2) % every:
            continue
        dims = [d for d in dims_all if leaves[d].notna().any()]
        yield Labelled(leaves, dims, labels.get(str(case_id), set()), ratio)


def family_cases(family: cubes.Family, split: str, n: int) -> Iterator[Labelled]:
    for c in cubes.cases(family, split, n):
        yield Labelled(c.leaves, c.dimensions, {as_element(e) for e in c.root_causes}, c.ratio)


def score(cases: Iterable[Labelled], methods: Sequence[str]) -> tuple[int, dict[str, Score]]:
    scores = {m: Score() for m in methods}
    n = 0
    for case in cases:
        n += 1
        for m in methods:
            t0 = time.perf_counter()
            result = METHODS[m](case.leaves, case.dimensions, ratio=case.ratio)
            scores[m].seconds += time.perf_counter() - t0
            pred = {as_element(e.filters) for e in result.elements}
            scores[m].tp += len(pred & case.truth)
            scores[m].fp += len(pred - case.truth)
            scores[m].fn += len(case.truth - pred)
    return n, scores


def _row(name: str, split: str, n: int, scores: dict[str, Score]) -> str:
    cells = [f"{name:<19}{split:<9}{n:>5}"]
    for s in scores.values():
        cells.append(f"{s.f1:>8.3f} {s.tp:>4}/{s.fp:<3}/{s.fn:<4}{s.seconds:>7.2f}")
    return "  ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path, help="contract-4 dataset directories")
    parser.add_argument("--quick", action="store_true", help="15 cases per family split")
    parser.add_argument("--cases", type=int, default=50, help="cases per family split")
    parser.add_argument(
        "--every", type=int, default=2, help="shared sets: every K-th case of each split"
    )
    parser.add_argument("--only", nargs="*", default=None, help="family / dataset names to run")
    parser.add_argument("--split", choices=[*cubes.SPLITS, "both"], default="both")
    parser.add_argument("--methods", nargs="*", choices=list(METHODS), default=list(METHODS))
    args = parser.parse_args(argv)
    n_cases, every = (15, 4) if args.quick else (args.cases, args.every)
    if n_cases < 1 or every < 1:
        print("--cases and --every must be ≥ 1", file=sys.stderr)
        return 2
    shared = DEFAULT_DATA.iterdir() if DEFAULT_DATA.is_dir() else ()
    dirs = args.datasets or sorted(p for p in shared if (p / "cases.parquet").exists())
    for d in dirs:
        if not (d / "cases.parquet").exists() or not (d / "labels.jsonl").exists():
            print(f"{d}: no cases.parquet / labels.jsonl", file=sys.stderr)
            return 2
    splits = cubes.SPLITS if args.split == "both" else (args.split,)
    head = "".join(f"  {m + ' F1':>8} {'TP/FP/FN':<12}{'sec':>7}" for m in args.methods)
    print(f"{'set':<19}{'split':<9}{'cases':>5}{head}")
    wanted = set(args.only) if args.only else None
    for family in cubes.FAMILIES.values():
        if wanted is None or family.name in wanted:
            for split in splits:
                n, s = score(family_cases(family, split, n_cases), args.methods)
                print(_row(family.name, split, n, s), flush=True)
    for d in dirs:
        if wanted is None or d.name in wanted:
            for split in splits:
                n, s = score(shared_cases(d, split, every), args.methods)
                print(_row(d.name, split, n, s), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
