"""What the TUI needs from the rest of the program, behind small injectable seams.

Everything heavy (duckdb, ibis, pydantic-ai, the statistics stack) is imported inside these
functions, never at module import, so the first frame does not wait for it. Tests replace
:class:`Services` fields with fakes (a scripted orchestrator, an in-memory schema).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..core.models import Event, Investigation
    from ..core.store import SavedInvestigation
    from ..settings import Settings
    from ..warehouse.types import WarehouseSchema

Progress = Callable[[str, float], None]


class WarehouseLike(Protocol):
    """The part of ``warehouse.connect.Warehouse`` the TUI uses."""

    @property
    def label(self) -> str: ...

    @property
    def schema(self) -> WarehouseSchema: ...

    def close(self) -> None: ...


class OrchestratorLike(Protocol):
    """The part of ``core.orchestrator.Orchestrator`` the TUI uses."""

    model_name: str
    record: Investigation | None
    checkpoint: Callable[[Investigation], object] | None

    def investigate(self, question: str) -> AsyncIterator[Event]: ...

    def follow_up(self, question: str) -> AsyncIterator[Event]: ...

    def resume(self, record: Investigation) -> None: ...

    def cancel(self) -> None: ...


class StoreLike(Protocol):
    """The part of ``core.store.InvestigationStore`` the TUI uses (the history)."""

    def save(self, record: Investigation) -> Path: ...

    def list(self) -> Sequence[SavedInvestigation]: ...

    def load(self, id_or_path: str | Path) -> Investigation: ...

    def delete(self, id: str) -> None: ...


def open_warehouse(source: str | None, config: Path | None, progress: Progress) -> WarehouseLike:
    """Open ``source``; None is the demo, built once on the first run with its real progress."""
    progress("Loading the query engine", 0.0)
    from ..warehouse.connect import open_warehouse as _open
    from ..warehouse.demo import default_warehouse_path, ensure_default_warehouse

    if source is None:
        path = default_warehouse_path()
        if not path.exists():
            ensure_default_warehouse(lambda stage, done: progress(demo_build_message(stage), done))
        progress(f"Opening the demo warehouse ({path.name})", 1.0)
        return _open(path, config=config, progress=progress)
    progress(f"Opening {source}", 0.5)
    return _open(source, config=config, progress=progress)


def demo_build_message(stage: str) -> str:
    """What the first run is doing: building the demo, once, and which part of it."""
    return (
        "First run: building the demo warehouse — this happens once; later starts open it "
        f"directly ({stage})"
    )


def make_orchestrator(warehouse: WarehouseLike, model: str, settings: Settings) -> OrchestratorLike:
    from ..core.orchestrator import Orchestrator

    orchestrator: OrchestratorLike = Orchestrator(
        warehouse,  # type: ignore[arg-type]
        model=model,
        settings=settings,
    )
    return orchestrator


def warm_up() -> None:
    """Import the investigation engine ahead of the first question (in a worker thread)."""
    os.environ.setdefault("PYDANTIC_AI_NO_BANNER", "1")
    from ..core import orchestrator  # noqa: F401


def load_record(path: Path) -> Investigation:
    from ..core.store import load_investigation

    return load_investigation(path)


def save_record(record: Investigation, path: Path) -> None:
    from ..core.store import save_investigation

    save_investigation(record, path)


def replay_events(record: Investigation) -> Iterator[Event]:
    from ..core.store import replay_events as _replay

    return _replay(record)


def report_to_markdown(record: Investigation) -> str:
    from ..core.report_markdown import report_to_markdown as _to_markdown

    return _to_markdown(record)


def make_store(directory: Path) -> StoreLike:
    """An ``InvestigationStore`` for the history directory."""
    from ..core.store import InvestigationStore

    store: StoreLike = InvestigationStore(directory)
    return store


def load_settings() -> Settings:
    from ..settings import Settings

    return Settings()


def user_error(exc: BaseException) -> str:
    """A one-line message for an error the user can act on (never a traceback)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or exc.__class__.__name__


@dataclass
class Services:
    """The seams; the defaults are the real program."""

    open_warehouse: Callable[[str | None, Path | None, Progress], WarehouseLike] = open_warehouse
    make_orchestrator: Callable[[WarehouseLike, str, Settings], OrchestratorLike] = (
        make_orchestrator
    )
    warm_up: Callable[[], None] = warm_up
    load_record: Callable[[Path], Investigation] = load_record
    save_record: Callable[[Investigation, Path], None] = save_record
    replay_events: Callable[[Investigation], Iterator[Event]] = replay_events
    report_to_markdown: Callable[[Investigation], str] = report_to_markdown
    make_store: Callable[[Path], StoreLike] = make_store
    load_settings: Callable[[], Settings] = load_settings
