"""The ``mai`` command line (contract 1 of DESIGN.md).

Importing this module is cheap: the engine, the warehouse and the TUI are imported inside the
command functions. Every user error ends as one ``mai: error: …`` line on stderr with exit
code 2; an investigation that fails exits with 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:
    from metric_anomaly_investigator.core.models import Event, Investigation
    from metric_anomaly_investigator.settings import Settings
    from metric_anomaly_investigator.warehouse.connect import Warehouse

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    """Bad command-line input; the message is shown as one line."""


# Errors the user can act on, by (module, class): checked only if the module was imported, so
# a quick command never pays for importing the engine.
_USER_ERRORS = (
    ("metric_anomaly_investigator.warehouse.types", "WarehouseError"),
    ("metric_anomaly_investigator.core.store", "StoreError"),
    ("metric_anomaly_investigator.core.agents", "ModelConfigError"),
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


def _err(message: str) -> None:
    print(f"mai: {message}", file=sys.stderr, flush=True)


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
            print(f"  {message} ({fraction:.0%})", file=stream, flush=True)

    return progress


def _open_warehouse(source: str | None, config: Path | None, *, quiet: bool) -> Warehouse:
    from metric_anomaly_investigator.warehouse.connect import (
        default_warehouse_path,
        ensure_default_warehouse,
        open_warehouse,
    )

    _check_config(config)
    if source is None:
        if not default_warehouse_path().exists():
            _err("creating the demo warehouse (first run)…")
        progress = None if quiet else _progress_printer(sys.stderr)
        source = str(ensure_default_warehouse(progress))
    return open_warehouse(source, config=config)


def _check_config(config: Path | None) -> None:
    if config is not None and not config.expanduser().is_file():
        raise CliError(f"config file not found: {config}")


def _writable_target(path: Path | None, flag: str) -> Path | None:
    if path is None:
        return None
    path = path.expanduser()
    if path.is_dir():
        raise CliError(f"{flag} {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise CliError(f"{flag} {path}: directory {path.parent} does not exist")
    try:  # probe now: finding out after a long run that the file cannot be written is too late
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise CliError(f"{flag} {path}: cannot write in {path.parent} ({exc.strerror})") from None
    return path


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
        print(
            f"  [{step.index}] {step.action}: {detail} ({step.duration_ms:.0f} ms)",
            file=stream,
            flush=True,
        )
    elif isinstance(event, ReportReady):
        print("  report ready", file=stream, flush=True)
    elif isinstance(event, InvestigationFinished) and event.investigation.status == "cancelled":
        print("  cancelled", file=stream, flush=True)


async def _run_investigation(
    warehouse: Warehouse,
    model: str,
    settings: Settings,
    question: str,
    *,
    previous: Investigation | None,
    quiet: bool,
) -> Investigation:
    """Run the question (as a follow-up of ``previous`` if given); returns the root record."""
    from metric_anomaly_investigator.core.orchestrator import Orchestrator

    orchestrator = Orchestrator(warehouse, model=model, settings=settings)
    # Ctrl-C cancels the investigation instead of killing it, so its steps are kept and saved.
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, orchestrator.cancel)
    if previous is not None:
        orchestrator.resume(previous)
        events = orchestrator.follow_up(question)
    else:
        events = orchestrator.investigate(question)
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
    # A continued investigation is saved back to its file unless --save says otherwise.
    save = _writable_target(args.save or args.continue_file, "--save")
    source = args.warehouse or settings.warehouse or (previous.warehouse if previous else None)
    warehouse = _open_warehouse(source, args.config, quiet=args.quiet)
    print(f"model: {model}", file=sys.stderr, flush=True)
    with warehouse:
        if not args.quiet:
            print(f"warehouse: {warehouse.label}", file=sys.stderr, flush=True)
        root = asyncio.run(
            _run_investigation(
                warehouse, model, settings, question, previous=previous, quiet=args.quiet
            )
        )
    # The text and Markdown outputs and the exit code are about this run; --json is the root.
    record = root.follow_ups[-1] if previous is not None else root
    if save is not None:
        from metric_anomaly_investigator.core.store import save_investigation

        save_investigation(root, save)
        if not args.quiet:
            print(f"saved: {save}", file=sys.stderr, flush=True)
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
        return EXIT_INTERRUPTED
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


def cmd_data_generate(args: argparse.Namespace) -> int:
    from metric_anomaly_investigator.warehouse.scenarios import generate_scenario

    out = _writable_target(args.out, "--out")
    assert out is not None
    progress = None if args.quiet else _progress_printer(sys.stderr)
    path = generate_scenario(
        args.scenario,
        out,
        users=args.users,
        days=args.days,
        seed=args.seed,
        progress=progress,
    )
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
    gen = data_sub.add_parser("generate", help="write a scenario's world to a DuckDB file")
    gen.add_argument("--scenario", required=True, metavar="NAME")
    gen.add_argument("--out", required=True, type=Path, metavar="PATH")
    gen.add_argument("--users", type=int, metavar="N")
    gen.add_argument("--days", type=int, metavar="D")
    gen.add_argument("--seed", type=int, metavar="S")
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
