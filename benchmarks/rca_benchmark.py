"""Root-cause localization accuracy on datasets in the contract-4 format.

    uv run python benchmarks/rca_benchmark.py [DATASET_DIR ...] [--out DIR] [--every K [--start I]]

With no directory given, every dataset under ``../shared/benchmarks/rca/`` (relative to the
repository) is run. Writes ``<out>/<dataset>/predictions.jsonl`` in the labels' format and prints
per dataset: cases, micro-F1, TP/FP/FN and the summed algorithm seconds (loading excluded).
``--every K --start I`` runs only cases I, I+K, I+2K, … (in case-id order), e.g. ``--every 2
--start 1`` for the odd half.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from metric_anomaly_investigator.core.rca import localize

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "benchmarks" / "rca"
MEASURE_COLUMNS = {"actual", "expected", "actual_num", "expected_num", "actual_den", "expected_den"}

Element = frozenset[tuple[str, str]]


def _as_element(d: dict[str, object]) -> Element:
    return frozenset((str(k), str(v)) for k, v in d.items())


def load_labels(path: Path) -> dict[str, set[Element]]:
    labels: dict[str, set[Element]] = {}
    with path.open() as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                labels[str(row["case_id"])] = {_as_element(rc) for rc in row["root_causes"]}
    return labels


def dimension_columns(df: pd.DataFrame) -> list[str]:
    """Text columns other than case_id and the measures."""
    return [
        c
        for c in df.columns
        if c != "case_id" and c not in MEASURE_COLUMNS and not pd.api.types.is_numeric_dtype(df[c])
    ]


def run_dataset(
    path: Path, out_dir: Path, every: int = 1, start: int = 0
) -> dict[str, float | int | str]:
    cases = pd.read_parquet(path / "cases.parquet")
    labels_file = path / "labels.jsonl"
    labels = load_labels(labels_file) if labels_file.exists() else {}
    dims_all = dimension_columns(cases)
    ratio = all(
        c in cases.columns for c in ("actual_num", "expected_num", "actual_den", "expected_den")
    )
    tp = fp = fn = 0
    seconds = 0.0
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions: list[dict[str, object]] = []
    for index, (case_id, leaves) in enumerate(cases.groupby("case_id", sort=True)):
        if index < start or (index - start) % every:
            continue
        dims = [d for d in dims_all if leaves[d].notna().any()]
        t0 = time.perf_counter()
        result = localize(leaves, dims, ratio=ratio)
        seconds += time.perf_counter() - t0
        predicted = [el.filters for el in result.elements]
        predictions.append({"case_id": str(case_id), "root_causes": predicted})
        if labels:
            pred_set = {_as_element(p) for p in predicted}
            truth = labels.get(str(case_id), set())
            tp += len(pred_set & truth)
            fp += len(pred_set - truth)
            fn += len(truth - pred_set)
    with (out_dir / "predictions.jsonl").open("w") as fh:
        for p in predictions:
            fh.write(json.dumps(p) + "\n")
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
    return {
        "dataset": path.name,
        "cases": len(predictions),
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path, help="dataset directories")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "rca")
    parser.add_argument("--every", type=int, default=1, help="run every K-th case only")
    parser.add_argument("--start", type=int, default=0, help="index of the first case run")
    args = parser.parse_args(argv)
    if args.every < 1 or args.start < 0:
        print("--every must be ≥ 1 and --start ≥ 0", file=sys.stderr)
        return 2
    dirs = args.datasets or sorted(
        p for p in DEFAULT_DATA.iterdir() if (p / "cases.parquet").exists()
    )
    if not dirs:
        print(f"no datasets found under {DEFAULT_DATA}", file=sys.stderr)
        return 2
    print(f"{'dataset':<14}{'cases':>6}{'micro-F1':>10}{'TP':>6}{'FP':>6}{'FN':>6}{'seconds':>9}")
    for d in dirs:
        if not (d / "cases.parquet").exists():
            print(f"{d}: no cases.parquet", file=sys.stderr)
            return 2
        r = run_dataset(d, args.out / d.name, args.every, args.start)
        print(
            f"{r['dataset']!s:<14}{r['cases']:>6}{r['f1']:>10.3f}{r['tp']:>6}{r['fp']:>6}"
            f"{r['fn']:>6}{r['seconds']:>9.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
