"""Mutation score of the modules that decide the product's answer (mutmut 3). Not part of CI.

    uv run python benchmarks/mutation.py [--module core/question.py] [--max-mutants N]

For each decision module a snapshot of src/ and tests/ as last committed (--working-tree: as they
are now) is put into mutants/<module>/ (so edits made during a run do not disturb it, and src/ is
never touched); mutmut mutates that module only and runs the test files that import it. The score is
(killed + timeout) / (all checked - equivalent); equivalent mutants are listed, one reason each,
in benchmarks/mutation_equivalents.toml. With --max-mutants a fixed-seed sample is checked;
with --budget a module's run stops after that many seconds and only the checked mutants count.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "metric_anomaly_investigator"
WORK = ROOT / "mutants"
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.toml")

DECISION_MODULES = (
    "core/stats.py",
    "core/pvalues.py",
    "core/changepoints.py",
    "core/question.py",
    "core/actions/",
    "core/store.py",
    "warehouse/series.py",
    "warehouse/breakdowns.py",
    "warehouse/direct.py",
    "core/segments.py",
    "core/autopilot.py",
    "core/analyst_report.py",
    "core/rca.py",
)
# Modules reached through another import: the actions run behind the ToolExecutor, the
# autopilot behind the end-to-end helpers of tests/test_autopilot.py.
ENTRY_POINTS: dict[str, tuple[str, ...]] = {
    "core/actions/": (rf"\b{PACKAGE}\.core\.tools\b",),
    "core/autopilot.py": (r"^from test_autopilot import",),
    "core/analyst_report.py": (r"^from test_autopilot import",),
    # the query modules behind the warehouse.queries facade
    "warehouse/series.py": (rf"\b{PACKAGE}\.warehouse(\.queries\b| import queries\b)",),
    "warehouse/breakdowns.py": (rf"\b{PACKAGE}\.warehouse(\.queries\b| import queries\b)",),
    "warehouse/direct.py": (rf"\b{PACKAGE}\.warehouse(\.queries\b| import queries\b)",),
}
# Test files far too slow to run once per mutant: the terminal UI, killed subprocesses, the
# evaluation over every scenario, end-to-end runs over many generated worlds or a database server.
SLOW_TEST_FILES = re.compile(
    r"tests/test_(tui.*|kill|evals|autopilot_unseen|data_quality|postgres_backend)\.py$"
)

# mutmut's own first steps of `mutmut run` (copy, mutate), so the mutant names can be sampled.
GENERATE = """
from mutmut.__main__ import copy_src_dir, copy_also_copy_files, create_mutants
from mutmut.__main__ import setup_source_paths, store_lines_covered_by_tests
from mutmut.mutation.trampoline import set_mutant_under_test
set_mutant_under_test("mutant_generation")
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); store_lines_covered_by_tests()
create_mutants(2)
"""

DETECTED = {"killed", "timeout"}
STATUS_NAMES = ("killed", "survived", "timeout", "no tests", "equivalent", "not checked")
STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    **dict.fromkeys((1, 3), "killed"),
    0: "survived",
    **dict.fromkeys((5, 33), "no tests"),
    **dict.fromkeys((36, 24, -24, 152, 255), "timeout"),
    34: "skipped",
    None: "not checked",
}


@dataclass(frozen=True)
class Score:
    module: str
    counts: Counter[str]
    survivors: list[str]
    seconds: float

    @property
    def scored(self) -> int:
        skipped = ("equivalent", "not checked")
        return sum(n for status, n in self.counts.items() if status not in skipped)

    @property
    def percent(self) -> float:
        detected = sum(self.counts[s] for s in DETECTED)
        return 100.0 * detected / self.scored if self.scored else 0.0


def slug(module: str) -> str:
    return module.rstrip("/").removesuffix(".py").replace("/", "_")


def dotted(module: str) -> str:
    return f"{PACKAGE}." + module.rstrip("/").removesuffix(".py").replace("/", ".")


# Where the importing files include slow end-to-end ones (a full run of them takes longer than a
# module's budget, and mutmut runs them twice before the first mutant), the unit-level files.
FOCUSED_TESTS: dict[str, tuple[str, ...]] = {
    "warehouse/series.py": ("tests/test_warehouse_queries.py", "tests/test_mut_queries.py"),
    "warehouse/breakdowns.py": ("tests/test_warehouse_queries.py", "tests/test_mut_queries.py"),
    "core/store.py": ("tests/test_store.py", "tests/test_mut_store.py"),
    "core/actions/": (
        "tests/test_tools.py",
        "tests/test_mut_actions.py",
        "tests/test_mut_deployments.py",
        "tests/test_thin_data.py",
    ),
    "core/autopilot.py": ("tests/test_mut_autopilot.py",),
    "core/analyst_report.py": ("tests/test_mut_autopilot.py",),
}


def test_files_for(module: str, root: Path = ROOT) -> list[str]:
    """The test files that import the module (or, for a package, one of its modules), or one
    of its entry points."""
    name = dotted(module)
    parent, _, leaf = name.rpartition(".")
    patterns = (
        rf"\b{re.escape(name)}\b",
        rf"from {re.escape(parent)} import [^\n]*\b{re.escape(leaf)}\b",
        *ENTRY_POINTS.get(module, ()),
    )
    imports = re.compile("|".join(patterns), re.MULTILINE)
    files = []
    focused = FOCUSED_TESTS.get(module)
    for path in sorted((root / "tests").glob("test_*.py")):
        rel = path.relative_to(root).as_posix()
        if focused is not None and rel not in focused:
            continue
        if not SLOW_TEST_FILES.search(rel) and imports.search(path.read_text("utf-8")):
            files.append(rel)
    return files


def snapshot(workspace: Path, working_tree: bool) -> None:
    """src/, tests/ and pyproject.toml as last committed (or as they are now) into ``workspace``."""
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    if working_tree:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "src", workspace / "src", ignore=ignore)
        shutil.copytree(ROOT / "tests", workspace / "tests", ignore=ignore)
        shutil.copy2(ROOT / "pyproject.toml", workspace / "pyproject.toml")
        return
    archive = subprocess.run(
        ["git", "archive", "HEAD", "src", "tests", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(workspace, filter="data")


def configure(workspace: Path, module: str, tests: list[str]) -> None:
    """Append mutmut's settings for ``module`` to the snapshot's pyproject.toml."""
    source = f"src/{PACKAGE}/{module}" + ("*" if module.endswith("/") else "")
    config = {
        "source_paths": ["src/"],
        "only_mutate": [source],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-x", "-q"],
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]", *(f"{key} = {json.dumps(v)}" for key, v in config.items())]
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text(pyproject.read_text("utf-8") + "\n".join(lines) + "\n", "utf-8")


def exit_codes(workspace: Path) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in (workspace / "mutants" / "src").rglob("*.py.meta"):
        codes |= json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
    return codes


def equivalents(module: str) -> dict[str, str]:
    if not EQUIVALENTS.exists():
        return {}
    table = tomllib.loads(EQUIVALENTS.read_text("utf-8"))
    return dict(table.get(module, {}))


def run_mutmut(names: list[str], workspace: Path, out: IO[str], budget: float | None) -> None:
    """``mutmut run`` on the named mutants; stopped (its whole process group) past ``budget``."""
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", "2", *names]
    proc = subprocess.Popen(
        command, cwd=workspace, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def run_module(
    module: str, max_mutants: int | None, budget: float | None, working_tree: bool, log: Path
) -> Score:
    started = time.monotonic()
    workspace = WORK / slug(module)
    snapshot(workspace, working_tree)
    tests = test_files_for(module, workspace)
    if not tests:
        print(f"{module:22} no test file imports {dotted(module)}: not scored", flush=True)
        return Score(module, Counter(), [], 0.0)
    configure(workspace, module, tests)
    with log.open("w") as out:
        subprocess.run([sys.executable, "-c", GENERATE], cwd=workspace, check=True, stdout=out)
        names = sorted(exit_codes(workspace))
        if max_mutants is not None and len(names) > max_mutants:
            names = sorted(random.Random(14).sample(names, max_mutants))
        run_mutmut(names, workspace, out, budget)
    codes = exit_codes(workspace)
    excluded = equivalents(module)
    counts: Counter[str] = Counter()
    survivors = []
    for name in names:
        status = STATUS_BY_EXIT_CODE.get(codes.get(name), "suspicious")
        if name in excluded:
            status = "equivalent"
        counts[status] += 1
        if status == "survived":
            survivors.append(name)
    return Score(module, counts, survivors, time.monotonic() - started)


def mutation_diff(module: str, name: str) -> list[str]:
    """The changed lines of one mutant, as `mutmut show` prints them."""
    shown = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", name],
        cwd=WORK / slug(module),
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [
        line
        for line in shown.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=DECISION_MODULES)
    parser.add_argument("--max-mutants", type=int, help="check a fixed-seed sample of this size")
    parser.add_argument(
        "--budget", type=float, help="seconds per module; mutants left unchecked are not scored"
    )
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    parser.add_argument(
        "--working-tree", action="store_true", help="mutate the files as they are, not HEAD"
    )
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    for module in args.module or DECISION_MODULES:
        log = WORK / f"{slug(module)}.log"
        score = run_module(module, args.max_mutants, args.budget, args.working_tree, log)
        c = score.counts
        print(
            f"{module:22} {score.percent:5.1f}% killed  "
            f"killed {c['killed']}  survived {c['survived']}  timeout {c['timeout']}  "
            f"no-tests {c['no tests']}  equivalent-excluded {c['equivalent']}  "
            f"unchecked {c['not checked']}  "
            f"other {sum(c.values()) - sum(c[s] for s in STATUS_NAMES)}  "
            f"({score.seconds:.0f}s, log {log.relative_to(ROOT)})",
            flush=True,
        )
        if args.survivors:
            for name in score.survivors:
                print(f"    survived: {name}")
                for line in mutation_diff(module, name):
                    print(f"        {line.strip()}")
        for name, reason in equivalents(module).items():
            print(f"    equivalent: {name}: {reason}")


if __name__ == "__main__":
    main()
