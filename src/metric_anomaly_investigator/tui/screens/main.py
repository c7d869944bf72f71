"""The investigation screen: question, live timeline, chart, step detail and report."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, OptionList, Static, TabbedContent, TabPane

from ..footer import footer_order
from ..widgets.chart import ChartView
from ..widgets.question import QuestionInput
from ..widgets.report import ReportView
from ..widgets.status_bar import Status, StatusBar
from ..widgets.step_detail import StepDetail
from ..widgets.timeline import Timeline
from ..widgets.welcome import Welcome

if TYPE_CHECKING:
    from ..app import InvestigatorApp
    from ..state import Session, StepView

COMPACT_HEIGHT = 30
NEW_PLACEHOLDER = "Ask why a metric moved…  (Enter to investigate)"
FOLLOW_UP_PLACEHOLDER = "Ask a follow-up about these findings…  (Ctrl+N for a new investigation)"
REPLAY_PLACEHOLDER = "Replaying a saved investigation — Space play/pause, ←/→ step, Ctrl+N new"


class InvestigationScreen(Screen[None]):
    """The main screen. The app drives it: it renders a :class:`Session` and a :class:`Status`."""

    CSS_PATH = "main.tcss"
    AUTO_FOCUS = "#question"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="investigation.cancel"),
        Binding("escape", "replay_pause", "Pause", id="replay.pause"),
        Binding("f2", "focus_pane('question')", "Question", show=False, id="focus.question"),
        Binding("f3", "focus_pane('timeline')", "Steps", show=False, id="focus.timeline"),
        Binding("f4", "focus_pane('report')", "Report", show=False, id="focus.report"),
        Binding("f5", "focus_pane('detail')", "Detail", show=False, id="focus.detail"),
        Binding("space", "replay_toggle", "Play/pause", id="replay.toggle"),
        Binding("left", "replay_step(-1)", "Back", id="replay.back"),
        Binding("right", "replay_step(1)", "Forward", id="replay.forward"),
    ]

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock
        self.session: Session | None = None
        self.replaying = False

    def compose(self) -> ComposeResult:
        yield Static("[b]Metric Anomaly Investigator[/]", id="title-bar")
        question = QuestionInput(id="question")
        question.placeholder = NEW_PLACEHOLDER
        question.border_title = "Question [dim]F2[/]"
        yield question
        with ContentSwitcher(initial="welcome", id="body"):
            yield Welcome(id="welcome")
            with Horizontal(id="workspace"):
                timeline = Timeline(self._clock, id="timeline")
                timeline.border_title = "Steps [dim]F3[/]"
                yield timeline
                with Vertical(id="right"):
                    chart = ChartView(id="chart")
                    chart.border_title = "Chart"
                    yield chart
                    with TabbedContent(id="tabs"):
                        with TabPane("Report F4", id="tab-report"):
                            yield ReportView(id="report")
                        with TabPane("Step detail F5", id="tab-detail"):
                            yield StepDetail(id="detail")
        yield StatusBar(id="status")
        yield Footer(show_command_palette=False)

    # -- what the app calls ------------------------------------------------------------------

    @property
    def welcome(self) -> Welcome:
        return self.query_one(Welcome)

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def question(self) -> QuestionInput:
        return self.query_one(QuestionInput)

    def on_resize(self) -> None:
        self.set_class(self.size.height < COMPACT_HEIGHT, "-compact")

    def show_welcome(self) -> None:
        self.session = None
        self.replaying = False
        self.query_one("#body", ContentSwitcher).current = "welcome"
        self.timeline.show(None)
        self.query_one(ChartView).show_chart(None, empty="Charts appear here as steps complete.")
        self.query_one(StepDetail).show_step(None)
        self.query_one(ReportView).show_waiting()
        self.set_mode(replaying=False, follow_up=False)
        self.question.focus()

    def set_mode(self, *, replaying: bool, follow_up: bool) -> None:
        """Adapt the question box to live / follow-up / replay and refresh the footer keys."""
        self.replaying = replaying
        question = self.question
        question.disabled = replaying
        question.placeholder = (
            REPLAY_PLACEHOLDER
            if replaying
            else FOLLOW_UP_PLACEHOLDER
            if follow_up
            else NEW_PLACEHOLDER
        )
        question.border_title = (
            "Replay"
            if replaying
            else "Follow-up [dim]F2[/]"
            if follow_up
            else "Question [dim]F2[/]"
        )
        if replaying:
            self.timeline.focus()
        self.refresh_bindings()

    def show_session(self, session: Session, *, changed: StepView | None = None) -> None:
        """Render the session; follow the newest step unless the user moved away from it."""
        self.session = session
        self.query_one("#body", ContentSwitcher).current = "workspace"
        timeline = self.timeline
        was_at_end = (
            timeline.highlighted is None or timeline.highlighted >= timeline.option_count - 1
        )
        timeline.show(session)
        steps = session.steps
        if steps and (was_at_end or changed is None):
            timeline.highlight_key(steps[-1].key)
        self._show_selected()
        report = self.query_one(ReportView)
        run = session.current
        if run is None:
            report.show_waiting()
        elif run.status == "failed" and run.report is None:
            report.show_error("The investigation failed", run.error or "No reason was given.")
        elif session.report is not None and (run.report is not None or run.status != "running"):
            report.show_report(session.report)
        elif run.status == "cancelled":
            report.show_error(
                "Cancelled", "The investigation was cancelled; the steps so far are kept."
            )
        elif steps and steps[-1].action == "generate_insights":
            report.show_writing()
        elif session.report is not None:
            report.show_report(session.report)
        else:
            report.show_waiting()

    def show_failure(self, title: str, message: str) -> None:
        """An error that ended a run before (or instead of) its events."""
        self.query_one("#body", ContentSwitcher).current = "workspace"
        self.query_one(TabbedContent).active = "tab-report"
        self.query_one(ReportView).show_error(title, message)

    def show_status(self, status: Status) -> None:
        self.query_one(StatusBar).show(status)
        self.timeline.tick()

    # -- selection ---------------------------------------------------------------------------

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list is self.timeline:
            self._show_selected()

    def _show_selected(self) -> None:
        option = self.timeline.highlighted_option
        view = self.session.find(option.id) if self.session and option and option.id else None
        self.query_one(StepDetail).show_step(view)
        chart = self.query_one(ChartView)
        if view is None:
            return
        if view.step is not None:
            source = self._chart_source(view)
            chart.show_chart(
                source.step.chart if source and source.step else None,
                empty=f"Step {view.index} has no chart — its findings are in Step detail.",
            )
            chart.border_subtitle = (
                f"from step {source.index}" if source is not None and source is not view else ""
            )
        elif chart.chart is None:
            chart.show_chart(None, empty="Working… the chart appears when the step completes.")

    def _chart_source(self, view: StepView) -> StepView | None:
        """The step whose chart to show for ``view``: itself, else the latest earlier one with a
        chart (the report step keeps the evidence in view)."""
        steps = self.session.steps if self.session else []
        earlier = steps[: steps.index(view) + 1] if view in steps else [view]
        for candidate in reversed(earlier):
            if candidate.step is not None and candidate.step.chart is not None:
                return candidate
        return None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list is self.timeline:
            self.query_one(TabbedContent).active = "tab-detail"

    # -- actions -----------------------------------------------------------------------------

    def action_focus_pane(self, pane: str) -> None:
        tabs = self.query_one(TabbedContent)
        if pane == "question":
            if not self.question.disabled:
                self.question.focus()
        elif pane == "timeline":
            self.timeline.focus()
        elif pane == "report":
            tabs.active = "tab-report"
            self.query_one(ReportView).focus()
        elif pane == "detail":
            tabs.active = "tab-detail"
            self.query_one(StepDetail).focus()

    @property
    def investigator(self) -> InvestigatorApp:
        return cast("InvestigatorApp", self.app)

    def action_cancel(self) -> None:
        self.investigator.cancel_investigation()

    def action_replay_toggle(self) -> None:
        self.investigator.replay_toggle()

    def action_replay_step(self, delta: int) -> None:
        self.investigator.replay_step(delta)

    def action_replay_pause(self) -> None:
        self.investigator.cancel_investigation()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show each key only when it acts: Esc cancels a run, or pauses a playing replay."""
        if action in {"replay_toggle", "replay_step"}:
            return self.replaying
        if action == "replay_pause":
            return self.replaying and self.investigator.playing
        if action == "cancel":
            return self.investigator.running and not self.replaying
        return True

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        return footer_order(super().active_bindings)
