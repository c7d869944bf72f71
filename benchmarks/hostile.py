"""Hostile inputs against the real ``mai`` program, one subprocess each, and a one-line verdict.

Every case of issue 8 that a user can type is run here as a user would run it: bad and
malicious warehouses, write paths that point at the user's files, corrupt or special saved
files, a misbehaving OpenAI-compatible server on loopback. A case is *clean* when

- the exit code is the one expected (0 answered, 1 failed run, 2 refused input),
- nothing on stdout or stderr is a Python traceback, and a refusal is one ``mai:`` line,
- no raw terminal control byte reaches the terminal in text output,
- every input file is byte for byte what it was before (sha256 over the whole input tree),
- and the case's own check holds (the same root cause as the clean world, a note, a hint…).

The kill cases (SIGTERM, SIGKILL, a double Ctrl-C mid-run) live in ``tests/test_kill.py``; the
in-process versions of every case are in the test suite. This prints one row per case and
closes with ``N hostile inputs, N clean``::

    uv run python benchmarks/hostile.py [--users 3000] [--keep DIR] [-k PATTERN]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fake_openai import UNGROUNDED_REPORT, Reply, fake_openai_server

QUESTION = "DAU dropped after January 28th. What's causing it?"
TABLES = ("events", "users", "deployments", "annotations")
TIMEOUT_S = 240


@dataclass
class Outcome:
    code: int | None
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


Check = Callable[[Outcome], str | None]  # None: holds; else what went wrong


@dataclass
class Case:
    name: str
    args: list[str]
    exit: int
    check: Check | None = None
    env: dict[str, str] = field(default_factory=dict)
    inputs: list[Path] = field(default_factory=list)  # trees whose bytes must not change
    server: list[Reply] | None = None  # a fake OpenAI server answering with this script


# -- worlds ---------------------------------------------------------------------------------------


class Worlds:
    """The demo story written once, and copies of it with one kind of bad data each."""

    def __init__(self, root: Path, users: int) -> None:
        self.root = root
        self.db = root / "clean.duckdb"
        _mai("data", "generate", "--scenario", "seed_android_india", "--out", str(self.db),
             "--users", str(users), "--days", "63", "--seed", "11", "-q")  # fmt: skip
        self.parquet = self.export("parquet")

    def export(self, name: str, **replace: str) -> Path:
        """The world as a Parquet directory; ``replace`` maps a table to the SQL that yields it."""
        out = self.root / name
        out.mkdir()
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            for table in TABLES:
                query = replace.get(table, f"SELECT * FROM {table}")
                con.execute(f"COPY ({query}) TO '{out / (table + '.parquet')}' (FORMAT parquet)")
        finally:
            con.close()
        return out

    def with_strays(self, name: str, *stamps: str) -> Path:
        rows = " UNION ALL ".join(
            f"SELECT * REPLACE (TIMESTAMP '{s}' AS event_timestamp) FROM "
            "(SELECT * FROM events LIMIT 1)"
            for s in stamps
        )
        return self.export(name, events=f"SELECT * FROM events UNION ALL {rows}")


def _mai(*args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT_S) -> Outcome:
    proc = subprocess.run(
        [sys.executable, "-m", "metric_anomaly_investigator", *args],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def _sha(root: Path) -> dict[str, str]:
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -- checks ---------------------------------------------------------------------------------------


def top_segment(out: Outcome) -> dict[str, str]:
    report = out.json().get("report") or {}
    segments = report.get("affected_segments") or []
    return dict(segments[0]["filters"]) if segments else {}


def same_answer_as(reference: dict[str, str]) -> Check:
    def check(out: Outcome) -> str | None:
        got = top_segment(out)
        return None if got == reference else f"top segment {got}, clean world: {reference}"

    return check


def mentions(*words: str, stream: str = "stderr") -> Check:
    def check(out: Outcome) -> str | None:
        text = getattr(out, stream)
        missing = [w for w in words if w not in text]
        return f"{stream} does not mention {missing}" if missing else None

    return check


def both(*checks: Check) -> Check:
    def check(out: Outcome) -> str | None:
        return next((problem for c in checks if (problem := c(out)) is not None), None)

    return check


def record_keeps(path: Path, key: str, mode: int) -> Check:
    def check(out: Outcome) -> str | None:
        raw = json.loads(path.read_text())
        if key not in raw:
            return f"unknown field {key!r} dropped"
        if len(raw.get("follow_ups") or []) != 1:
            return "the follow-up was not saved"
        got = path.stat().st_mode & 0o777
        return None if got == mode else f"mode {oct(got)} instead of {oct(mode)}"

    return check


def no_control_bytes(out: Outcome) -> str | None:
    bad = [c for c in out.stdout + out.stderr if ord(c) < 32 and c not in "\n\t"]
    return f"{len(bad)} raw control characters reached the terminal" if bad else None


def generic_problems(case: Case, out: Outcome) -> list[str]:
    problems = []
    if out.code != case.exit:
        problems.append(f"exit {out.code}, expected {case.exit}")
    traced = next((text for text in (out.stderr, out.stdout) if "Traceback" in text), None)
    if traced is not None:  # its last line, from the stream that holds it
        problems.append("traceback: " + traced.strip().splitlines()[-1][:120])
    if case.exit == 2:
        errors = [line for line in out.stderr.splitlines() if line.startswith("mai: error")]
        if len(errors) != 1:
            problems.append(f"{len(errors)} 'mai: error' lines instead of one")
    if (problem := no_control_bytes(out)) is not None and "--json" not in case.args:
        problems.append(problem)
    return problems


# -- the cases ------------------------------------------------------------------------------------


def build_cases(w: Worlds, tmp: Path) -> list[Case]:
    db, pq = w.db, w.parquet
    clean = _mai("investigate", QUESTION, "-w", str(pq), "--json", "-q")
    reference = top_segment(clean)
    if clean.code != 0 or not reference:
        raise SystemExit(f"the clean world did not give an answer: {clean.stderr[-400:]}")
    answer = same_answer_as(reference)
    inv = ["investigate", QUESTION, "--json", "-q", "-w"]

    def corrupt(name: str, text: str | bytes) -> Path:
        path = tmp / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    record = tmp / "run.json"
    saved = _mai("investigate", QUESTION, "-w", str(db), "--save", str(record), "-q")
    if saved.code != 0:
        raise SystemExit(f"could not save a record: {saved.stderr[-400:]}")
    raw = json.loads(record.read_text())
    nan_step = {**raw, "steps": [{**raw["steps"][0], "duration_ms": "NaN"}, *raw["steps"][1:]]}
    bad_chart = {**raw, "steps": [{**raw["steps"][0], "data": {"chart": {"kind": "pie", "x": 3}}}]}
    kept = tmp / "kept.json"
    kept.write_text(json.dumps({**raw, "x_team_label": "keep me"}))
    kept.chmod(0o600)
    fifo = tmp / "fifo.json"
    os.mkfifo(fifo)
    huge = tmp / "huge.json"
    with huge.open("wb") as fh:
        fh.truncate(300 * 1024 * 1024)  # sparse: large on paper, nothing on disk
    notes = corrupt("notes.txt", "my notes, not a record\n")
    generated = tmp / "generated.duckdb"
    shutil.copy(db, generated)

    model = ["--model", "openai-chat:gpt-4o"]
    model_env = {"OPENAI_API_KEY": "sk-fake", "MAI_REQUEST_TIMEOUT": "1", "MAI_DEADLINE": "30",
                 "MAI_REQUEST_RETRIES": "1"}  # fmt: skip
    decide = {"reasoning": "look at the metric", "action": {"action": "detect_anomaly",
              "metric": "dau"}}  # fmt: skip

    escape = w.export(
        "escape",
        events="SELECT * REPLACE (CASE WHEN platform = 'android' THEN "
        "'and' || chr(27) || '[31mroid' || chr(7) ELSE platform END AS platform) FROM events",
    )
    outside = corrupt("outside.toml", '[tables]\nevents = "/etc/hostname"\n')
    escaping = corrupt("escaping.toml", '[tables]\nevents = "../clean.duckdb"\n')

    return [
        # writes that cannot destroy
        Case("--save onto the DuckDB warehouse", [*inv, str(db), "--save", str(db)], 2,
             inputs=[db]),
        Case("--save into the Parquet warehouse", [*inv, str(pq), "--save",
             str(pq / "events.parquet")], 2, inputs=[pq]),
        Case("--save onto a file that is not a record", [*inv, str(db), "--save", str(notes)],
             2, inputs=[db, notes]),
        Case("data generate onto an existing file", ["data", "generate", "--scenario",
             "seed_android_india", "--out", str(generated), "--users", "500"], 2,
             inputs=[generated]),
        Case("--continue keeps unknown fields and the mode", ["investigate", "Is it only IN?",
             "-w", str(db), "--continue", str(kept), "-q"], 0,
             check=record_keeps(kept, "x_team_label", 0o600), inputs=[db]),
        # a data-quality guard, not a confident wrong answer
        *[
            Case(f"stray events dated {stamp[:10]}", [*inv, str(path)], 0,
                 check=answer, inputs=[path])
            for stamp, path in (
                (s, w.with_strays(f"stray_{s[:4]}", *[s] * 5))
                for s in ("1970-01-01 00:00:00", "2027-03-01 12:00:00", "2100-01-01 00:00:00",
                          "2262-01-01 00:00:00")
            )
        ],
        Case("a 9999-12-31 sentinel", [*inv, str(p := w.with_strays("sentinel",
             "9999-12-31 23:59:59"))], 0, check=answer, inputs=[p]),
        Case("one event in the year 1000", [*inv, str(p := w.with_strays("year1000",
             "1000-06-01 00:00:00"))], 0, check=answer, inputs=[p]),
        Case("strays are reported with counts", ["investigate", QUESTION, "-w",
             str(p := w.with_strays("reported", *["2100-01-01 00:00:00"] * 5))], 0,
             check=mentions("Ignored 5"), inputs=[p]),
        Case("numeric deployments.regions", [*inv, str(p := w.export("num_regions",
             deployments="SELECT * REPLACE (len(regions) AS regions) FROM deployments"))], 0,
             check=answer, inputs=[p]),
        Case("empty and '?' dimension values", [*inv, str(p := w.export("punct",
             events="SELECT * REPLACE (CASE WHEN user_id % 7 = 0 THEN '?' WHEN user_id % 7 = 1 "
             "THEN '' ELSE country END AS country) FROM events"))], 0,
             check=lambda o: None if "?" not in top_segment(o).values() and "" not in
             top_segment(o).values() else f"phantom segment {top_segment(o)}", inputs=[p]),
        Case("a users table that does not join", ["investigate", QUESTION, "-w",
             str(p := w.export("nojoin", users="SELECT * REPLACE (user_id + 1000000000 AS "
             "user_id) FROM users"))], 0, check=mentions("users"), inputs=[p]),
        Case("ISO text timestamps with an offset", [*inv, str(p := w.export("iso",
             events="SELECT * REPLACE (strftime(event_timestamp, '%Y-%m-%dT%H:%M:%S') || "
             "'+00:00' AS event_timestamp) FROM events"))], 0, check=answer, inputs=[p]),
        Case("epoch-microsecond timestamps", [*inv, str(p := w.export("epoch_us",
             events="SELECT * REPLACE (epoch_us(event_timestamp) AS event_timestamp) "
             "FROM events"))], 0, check=answer, inputs=[p]),
        Case("terminal escapes in data values", ["investigate", QUESTION, "-w", str(escape)],
             0, inputs=[escape]),
        Case("--config table outside the warehouse", [*inv, str(pq), "--config", str(outside)],
             2, inputs=[pq, outside]),
        Case("--config table escaping with ../", [*inv, str(pq), "--config", str(escaping)],
             2, inputs=[pq, escaping]),
        # saved files that are not what they claim
        Case("replay: 200k nested brackets", ["replay", str(corrupt("deep.json",
             "[" * 200_000 + "]" * 200_000))], 2),
        Case("replay: /dev/zero", ["replay", "/dev/zero"], 2),
        Case("replay: a FIFO", ["replay", str(fifo)], 2),
        Case("replay: a 300 MB file", ["replay", str(huge)], 2),
        Case("replay: a NaN step duration", ["replay", str(corrupt("nan.json",
             json.dumps(nan_step)))], 2),
        Case("replay: an invalid chart", ["replay", str(corrupt("chart.json",
             json.dumps(bad_chart)))], 2),
        Case("--continue: a directory", ["investigate", "And IN?", "-w", str(db),
             "--continue", str(tmp)], 2, inputs=[db]),
        # a misbehaving model server
        Case("model: never answers", [*inv, str(db), *model], 1, env=model_env,
             server=[Reply(hang=True)] * 4, check=mentions("MAI_REQUEST_TIMEOUT",
             stream="stdout"), inputs=[db]),
        Case("model: empty choices", [*inv, str(db), *model], 1, env=model_env,
             server=[Reply(empty_choices=True)] * 6, check=mentions("without any choices",
             stream="stdout"), inputs=[db]),
        Case("model: an unknown tool", [*inv, str(db), *model], 1, env=model_env,
             server=[Reply(tool_name="run_sql", arguments={"sql": "DROP TABLE events"})] * 8,
             check=mentions("does not exist", stream="stdout"), inputs=[db]),
        Case("model: openai: on a chat-only server", [*inv, str(db), "--model",
             "openai:gpt-4o"], 1, env=model_env, server=[], check=mentions("openai-chat:",
             stream="stdout"), inputs=[db]),
        Case("model: an ungrounded report", [*inv, str(db), *model], 0, env=model_env,
             server=[Reply(arguments=decide), Reply(arguments={"reasoning": "done", "action":
             {"action": "generate_insights"}}), *[Reply(arguments=UNGROUNDED_REPORT)] * 6],
             check=lambda o: None if (o.json()["report"] or {}).get("fallback_reason")
             and "Mars" not in json.dumps(o.json()["report"]["affected_segments"])
             else "the ungrounded report was accepted", inputs=[db]),
    ]  # fmt: skip


def run_case(case: Case) -> list[str]:
    before = {p: _sha(p) for p in case.inputs}
    env = dict(case.env)
    try:
        if case.server is not None:
            with fake_openai_server(case.server) as fake:
                env["OPENAI_BASE_URL"] = fake.base_url
                out = _mai(*case.args, env=env)
        else:
            out = _mai(*case.args, env=env)
    except subprocess.TimeoutExpired:
        return [f"no answer within {TIMEOUT_S} s"]
    problems = generic_problems(case, out)
    if case.check is not None and out.code == case.exit:
        try:
            problem = case.check(out)
        except Exception as exc:  # a check that cannot even read the output is a failure
            problem = f"unreadable output ({type(exc).__name__}: {exc})"
        if problem is not None:
            problems.append(problem)
    problems += [f"input changed: {p}" for p in case.inputs if _sha(p) != before[p]]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000, help="users in the world (3000)")
    parser.add_argument("--keep", type=Path, help="build the worlds here and keep them")
    parser.add_argument("-k", dest="pattern", help="only the cases whose name contains this")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="mai-hostile-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["MAI_DATA_DIR"] = str(root / "data")  # history and caches away from the user's
    try:
        worlds = Worlds(root, args.users)
        tmp = root / "files"
        tmp.mkdir()
        cases = [c for c in build_cases(worlds, tmp) if not args.pattern or args.pattern in c.name]
        clean = 0
        for case in cases:
            started = time.perf_counter()
            problems = run_case(case)
            clean += not problems
            verdict = "clean" if not problems else "FAIL: " + "; ".join(problems)
            print(f"{case.name:<44} {time.perf_counter() - started:6.1f} s  {verdict}", flush=True)
        print(f"{len(cases)} hostile inputs, {clean} clean")
        return 0 if clean == len(cases) else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
