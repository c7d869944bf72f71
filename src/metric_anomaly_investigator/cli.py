"""The ``mai`` command line (contract 1 of docs/architecture.md).

Importing this module is cheap: the engine, the warehouse and the TUI are imported inside the
command functions. Every user error ends as one ``mai: error: …`` line on stderr with exit
code 2; an investigation that fails exits with 1. Nothing is ever written onto the warehouse,
its config or a file that is not ours (``core.safe_write``), and every line for the terminal has
its control characters escaped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, NoReturn, TextIO

from metric_anomaly_investigator.core.report_markdown import escape_controls

if TYPE_CHECKING:
    from metric_anomaly_investigator.core.models import Event, Investigation
    from metric_anomaly_investigator.settings import Settings
    from metric_anomaly_investigator.warehouse.warehouse import Warehouse

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
FORCE_AFTER_SIGNALS = 3  # the third Ctrl-C stops at once, even during a query that cannot stop


class CliError(Exception):
    """Bad command-line input; the message is shown as one line."""


# Errors the user can act on, by (module, class): checked only if the module was imported, so
# a quick command never pays for importing the engine.
_USER_ERRORS = (
    ("metric_anomaly_investigator.warehouse.types", "WarehouseError"),
    ("metric_anomaly_investigator.core.store", "StoreError"),
    ("metric_anomaly_investigator.core.agents", "ModelConfigError"),
    ("metric_anomaly_investigator.core.safe_write", "UnsafeWriteError"),
)


def _is_user_error(exc: BaseException) -> bool:
    if isinstance(exc, CliError | OSError):
        return True
    for module_name, class_name in _USER_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _say(line: str, stream: TextIO | None = None) -> None:
    """One line for the terminal (stderr by default), control characters made visible."""
    print(escape_controls(line, keep=""), file=stream or sys.stderr, flush=True)


def _err(message: str) -> None:
    _say(f"mai: {message}")


class _Parser(argparse.ArgumentParser):
    """Reports bad arguments in one line instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        _err(f"error: {message} (see '{self.prog} --help')")
        raise SystemExit(EXIT_USAGE)


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _settings(max_steps: int | None = None) -> Settings:
    from pydantic import ValidationError

    from metric_anomaly_investigator.settings import Settings

    try:
        return Settings() if max_steps is None else Settings(max_steps=max_steps)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "setting"
        what = (
            "--max-steps"
            if name == "max_steps" and max_steps is not None
            else f"MAI_{name.upper()}"
        )
        raise CliError(f"invalid {what}: {err['msg']}") from None


def _check_model(name: str) -> None:
    """Fail before any work when the model cannot be used (unknown, missing key…)."""
    from metric_anomaly_investigator.settings import AUTOPILOT

    if name != AUTOPILOT:
        from metric_anomaly_investigator.core.agents import resolve_model

        resolve_model(name)


def _progress_printer(stream: TextIO) -> Callable[[str, float], None]:
    last: list[str] = [""]

    def progress(message: str, fraction: float) -> None:
        if message != last[0]:
            last[0] = message
            _say(f"  {message} ({fraction:.0%})", stream)

    return progress


def _open_warehouse(source: str | None, config: Path | None, *, quiet: bool) -> Warehouse:
    from metric_anomaly_investigator.warehouse.connect import open_warehouse
    from metric_anomaly_investigator.warehouse.demo import (
        default_warehouse_path,
        ensure_default_warehouse,
    )

    _check_config(config)
    progress = None if quiet else _progress_printer(sys.stderr)
    if source is None:
        if not default_warehouse_path().exists():
            _err("creating the demo warehouse (first run)…")
        source = str(ensure_default_warehouse(progress))
    return open_warehouse(source, config=config, progress=progress)


def _check_config(config: Path | None) -> None:
    if config is not None and not config.expanduser().is_file():
        raise CliError(f"config file not found: {config}")


def _writable_target(
    path: Path,
    flag: str,
    *,
    protected: Sequence[Path] = (),
    replaceable: Callable[[Path], bool] | None = None,
    what: str = "file",
) -> Path:
    """Check ``path`` before any work (see ``core.safe_write.check_target``): finding out after
    a long run that the file cannot or must not be written is too late."""
    from metric_anomaly_investigator.core.safe_write import UnsafeWriteError, check_target

    path = path.expanduser()
    try:
        target = check_target(path, protected=protected, replaceable=replaceable, what=what)
    except UnsafeWriteError as exc:
        raise CliError(f"{flag}: {exc}") from None
    try:
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as exc:
        raise CliError(f"{flag} {path}: cannot write in {path.parent} ({exc.strerror})") from None
    return path


def _protected(source: str | None) -> list[Path]:
    """The files of the warehouse an investigation reads (None: the demo)."""
    from metric_anomaly_investigator.core.safe_write import warehouse_paths
    from metric_anomaly_investigator.warehouse.demo import default_warehouse_path

    return warehouse_paths(source or str(default_warehouse_path()))


class _Interrupts:
    """SIGINT and SIGTERM cancel the investigation (its steps are kept and saved) instead of
    killing ``mai``; a second signal while the record is being saved is remembered, not fatal.
    The third exits at once: the checkpoints already hold every finished step."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._count = 0
        self._cancel: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _Interrupts:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            if self.received is not None:  # mai is about to exit 130/143: no traceback on the way
                signal.signal(sig, signal.SIG_IGN)
            elif handler is not None:  # None: installed outside Python, cannot be restored
                signal.signal(sig, handler)  # type: ignore[arg-type]

    def attach(self, loop: asyncio.AbstractEventLoop, cancel: Callable[[], None]) -> None:
        """Route signals to ``cancel`` on ``loop``; one that came earlier cancels at once."""
        self._loop, self._cancel = loop, cancel
        if self.received is not None:
            cancel()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = self.received or signum
        self._count += 1
        if self._count >= FORCE_AFTER_SIGNALS:
            _err("interrupted again: exiting now (finished steps already saved are kept)")
            os._exit(128 + signum)
        loop, cancel = self._loop, self._cancel
        if loop is not None and cancel is not None and not loop.is_closed():
            loop.call_soon_threadsafe(cancel)

    @property
    def exit_code(self) -> int:
        return 128 + self.received if self.received is not None else EXIT_INTERRUPTED


class _Checkpoint:
    """Saves the root record after every step: to the history, and to FILE if given.

    A run killed mid-way is then in the history as interrupted (and in FILE), resumable with
    ``--continue``. A save that fails is reported once per place; the run goes on. The last
    save, when the run ends, is the finished record: ``error`` says whether FILE holds it.
    """

    def __init__(self, history: Path, path: Path | None, protect: Sequence[Path]) -> None:
        from metric_anomaly_investigator.core.store import InvestigationStore

        self.history = InvestigationStore(history)
        self.path, self.protect = path, protect
        self.error: Exception | None = None  # why the last save to FILE failed
        self._warned: set[str] = set()

    def __call__(self, record: Investigation) -> None:
        from metric_anomaly_investigator.core.store import StoreError, save_investigation

        try:
            self.history.save(record)
        except StoreError as exc:
            self._warn("history", f"warning: not saved to the history: {exc}")
        if self.path is None:
            return
        try:
            save_investigation(record, self.path, protect=self.protect)
        except StoreError as exc:
            self.error = exc
            self._warn("file", f"warning: progress not saved: {exc}")
        else:
            self.error = None

    def _warn(self, where: str, message: str) -> None:
        if where not in self._warned:
            self._warned.add(where)
            _err(message)


# --------------------------------------------------------------------------------------------
# mai investigate
# --------------------------------------------------------------------------------------------


def _print_event(event: Event, stream: TextIO) -> None:
    from metric_anomaly_investigator.core.models import (
        InvestigationFinished,
        ReportReady,
        StepCompleted,
        StepFailed,
    )

    if isinstance(event, StepCompleted | StepFailed):
        step = event.step
        if step.success:
            detail = step.findings[0] if step.findings else "done"
        else:
            detail = f"FAILED: {step.error or 'unknown error'}"
        _say(f"  [{step.index}] {step.action}: {detail} ({step.duration_ms:.0f} ms)", stream)
    elif isinstance(event, ReportReady):
        _say("  report ready", stream)
    elif isinstance(event, InvestigationFinished) and event.investigation.status == "cancelled":
        _say("  cancelled", stream)


async def _run_investigation(
    warehouse: Warehouse,
    model: str,
    settings: Settings,
    question: str,
    *,
    previous: Investigation | None,
    quiet: bool,
    interrupts: _Interrupts,
    checkpoint: _Checkpoint,
) -> Investigation:
    """Run the question (as a follow-up of ``previous`` if given); returns the root record."""
    from metric_anomaly_investigator.core.orchestrator import Orchestrator

    orchestrator = Orchestrator(warehouse, model=model, settings=settings, checkpoint=checkpoint)
    if previous is not None:
        orchestrator.resume(previous)
        events = orchestrator.follow_up(question)
    else:
        events = orchestrator.investigate(question)
    interrupts.attach(asyncio.get_running_loop(), orchestrator.cancel)
    async for event in events:
        if not quiet:
            _print_event(event, sys.stderr)
    assert orchestrator.record is not None
    return orchestrator.record


def cmd_investigate(args: argparse.Namespace) -> int:
    question = args.question.strip()
    if not question:
        raise CliError('the question is empty: ask e.g. mai investigate "Why did DAU drop?"')
    settings = _settings(args.max_steps)
    model = args.model or settings.resolved_model()
    _check_model(model)
    previous = None
    if args.continue_file is not None:
        from metric_anomaly_investigator.core.store import load_investigation

        previous = load_investigation(args.continue_file.expanduser())
    source = args.warehouse or settings.warehouse or (previous.warehouse if previous else None)
    config = [args.config.expanduser()] if args.config is not None else []
    # A continued investigation is saved back to its file unless --save says otherwise.
    save = args.save or args.continue_file
    if save is not None:
        from metric_anomaly_investigator.core.store import is_record_file

        save = _writable_target(
            save,
            "--save",
            protected=[*_protected(source), *config],
            replaceable=is_record_file,
            what="saved investigation",
        )
    warehouse = _open_warehouse(source, args.config, quiet=args.quiet)
    _say(f"model: {model}")
    checkpoint = _Checkpoint(settings.history_dir, save, config)
    with warehouse, _Interrupts() as interrupts:
        if not args.quiet:
            _say(f"warehouse: {warehouse.label}")
            for note in warehouse.schema.coverage_notes():  # left-out days, ignored data
                _say(f"note: {note}")
        root = asyncio.run(
            _run_investigation(
                *(warehouse, model, settings, question),
                previous=previous,
                quiet=args.quiet,
                interrupts=interrupts,
                checkpoint=checkpoint,
            )
        )
        # Signals stay caught until the record is printed.
        return _finish(args, root, checkpoint, interrupts)


def _finish(
    args: argparse.Namespace,
    root: Investigation,
    checkpoint: _Checkpoint,
    interrupts: _Interrupts,
) -> int:
    """Print the finished record (its last checkpoint saved it); the exit code."""
    # The text and Markdown outputs and the exit code are about this run; --json is the root.
    record = [root, *root.follow_ups][-1]
    if checkpoint.path is not None:
        if checkpoint.error is not None:
            raise checkpoint.error
        if not args.quiet:
            _say(f"saved: {checkpoint.path}")
    if args.json:
        from metric_anomaly_investigator.core.store import dump_investigation

        sys.stdout.write(dump_investigation(root) + "\n")
    elif args.markdown:
        from metric_anomaly_investigator.core.report_markdown import report_to_markdown

        sys.stdout.write(report_to_markdown(record))
    else:
        from metric_anomaly_investigator.core.report_markdown import report_to_text

        sys.stdout.write(report_to_text(record))
    sys.stdout.flush()
    if record.status == "cancelled":
        done = len(record.steps)
        _err(f"investigation cancelled after {done} step{'s' if done != 1 else ''}")
        return interrupts.exit_code
    if record.status != "completed":
        _err(f"investigation {record.status}: {record.error or 'no report'}")
        return EXIT_FAILED
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# mai (TUI), mai replay, mai serve
# --------------------------------------------------------------------------------------------


def cmd_tui(args: argparse.Namespace) -> int:
    _check_config(args.config)
    if args.model is not None:
        _check_model(args.model)
    from metric_anomaly_investigator.tui.app import run_tui

    # Settings (MAI_MODEL, MAI_WAREHOUSE, ANTHROPIC_API_KEY…) are resolved by the app after its
    # first frame, so nothing heavier than Textual is imported before it.
    run_tui(warehouse=args.warehouse, model=args.model, config=args.config)
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from metric_anomaly_investigator.core.store import load_investigation

    path = args.file.expanduser()
    load_investigation(path)  # refuse a bad file before starting the TUI
    from metric_anomaly_investigator.tui.app import run_tui

    run_tui(replay=path)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from textual_serve.server import Server

    command = [sys.executable, "-m", "metric_anomaly_investigator"]
    if args.warehouse:
        command += ["--warehouse", args.warehouse]
    if args.model:
        command += ["--model", args.model]
    Server(shlex.join(command), host=args.host, port=args.port, title="mai").serve()
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# mai data
# --------------------------------------------------------------------------------------------


def cmd_data_scenarios(args: argparse.Namespace) -> int:
    from metric_anomaly_investigator.warehouse.scenarios import list_scenarios

    scenarios = list_scenarios()
    width = max((len(s.name) for s in scenarios), default=4)
    print(f"{'NAME':<{width}}  TITLE")
    for s in scenarios:
        print(f"{s.name:<{width}}  {s.title}")
        print(f"{'':<{width}}  {s.description}")
    return EXIT_OK


def cmd_data_metrics(args: argparse.Namespace) -> int:
    from metric_anomaly_investigator.warehouse.metric_config import describe, suggestions

    source = args.warehouse or _settings(None).warehouse
    with _open_warehouse(source, args.config, quiet=True) as wh:
        columns = dict(wh.events.schema().items())
        metrics = [wh.schema.metric(m) for m in wh.schema.metrics]
        suggested = suggestions(columns, wh.schema.event_types, wh.schema.metrics)
        print(escape_controls("\n".join(describe(metrics, suggested))))  # event types are data
    return EXIT_OK


def cmd_data_generate(args: argparse.Namespace) -> int:
    from metric_anomaly_investigator.core.safe_write import is_duckdb_file
    from metric_anomaly_investigator.warehouse.scenarios import generate_scenario

    out = args.out.expanduser()
    _writable_target(out, "--out", replaceable=is_duckdb_file, what="DuckDB file")
    if out.is_file() and not args.force:  # a DuckDB file: a file of another kind was refused
        raise CliError(f"{out} already exists: add --force to replace it")
    mode = stat.S_IMODE(out.stat().st_mode) if out.is_file() else None
    progress = None if args.quiet else _progress_printer(sys.stderr)
    path = generate_scenario(
        args.scenario,
        out,
        users=args.users,
        days=args.days,
        seed=args.seed,
        progress=progress,
    )
    if mode is not None:  # the replaced file keeps its permissions
        path.chmod(mode)
    print(path)
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# Parser and entry point
# --------------------------------------------------------------------------------------------


def _add_source_options(parser: argparse.ArgumentParser, *, sub: bool = True) -> None:
    # On subcommands SUPPRESS keeps a value given before the subcommand (mai -m M investigate …).
    default = argparse.SUPPRESS if sub else None
    parser.add_argument(
        "--warehouse",
        "-w",
        default=default,
        metavar="W",
        help="DuckDB file, directory of Parquet/CSV files, or database URL (default: the demo)",
    )
    parser.add_argument(
        "--model",
        "-m",
        default=default,
        metavar="M",
        help="'autopilot' or a PydanticAI model such as anthropic:claude-sonnet-4-5",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mai",
        description="Metric Anomaly Investigator: ask why a metric moved; an agent investigates.",
    )
    _add_source_options(parser, sub=False)
    parser.add_argument("--config", type=Path, metavar="TOML", help="table/column mapping file")
    parser.set_defaults(func=cmd_tui)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    inv = sub.add_parser("investigate", help="run one investigation headless")
    inv.add_argument("question", help='e.g. "Why did DAU drop last week?"')
    _add_source_options(inv)
    inv.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="TOML",
        help="table/column mapping file",
    )
    fmt = inv.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the investigation record as JSON")
    fmt.add_argument("--markdown", action="store_true", help="print the report as Markdown")
    inv.add_argument("--save", type=Path, metavar="FILE", help="also save the record to FILE")
    inv.add_argument(
        "--continue",
        dest="continue_file",
        type=Path,
        metavar="FILE",
        help="ask QUESTION as a follow-up of the investigation saved in FILE (saved back to it)",
    )
    inv.add_argument("--max-steps", type=int, metavar="N", help="step budget (default 12)")
    inv.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    inv.set_defaults(func=cmd_investigate)

    rep = sub.add_parser("replay", help="replay a saved investigation in the TUI")
    rep.add_argument("file", type=Path, metavar="FILE")
    rep.set_defaults(func=cmd_replay)

    data = sub.add_parser("data", help="synthetic demo worlds")
    data_sub = data.add_subparsers(
        title="data commands", metavar="COMMAND", required=True, parser_class=_Parser
    )
    scen = data_sub.add_parser("scenarios", help="list the scenario library")
    scen.set_defaults(func=cmd_data_scenarios)
    mets = data_sub.add_parser("metrics", help="a warehouse's metrics, and ones you could add")
    _add_source_options(mets)
    mets.add_argument("--config", type=Path, metavar="TOML", help="mapping and metrics file")
    mets.set_defaults(func=cmd_data_metrics)
    gen = data_sub.add_parser("generate", help="write a scenario's world to a DuckDB file")
    gen.add_argument("--scenario", required=True, metavar="NAME")
    gen.add_argument("--out", required=True, type=Path, metavar="PATH")
    gen.add_argument("--users", type=int, metavar="N")
    gen.add_argument("--days", type=int, metavar="D")
    gen.add_argument("--seed", type=int, metavar="S")
    gen.add_argument("--force", action="store_true", help="replace an existing DuckDB file")
    gen.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    gen.set_defaults(func=cmd_data_generate)

    srv = sub.add_parser("serve", help="serve the TUI in a browser (textual-serve)")
    _add_source_options(srv)
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mai``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a bad argument already reported in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if not _is_user_error(exc):
            raise
        _err(f"error: {_one_line(exc)}")
        return EXIT_USAGE
    return code
