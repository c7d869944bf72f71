"""Make the README's screenshot (docs/screenshot.svg): a real autopilot investigation on the
demo warehouse, exported by the app itself.

    uv run python scripts/screenshot.py [--out docs/screenshot.svg] [--data-dir DIR]

The demo warehouse is the one `mai` uses (generated on first use in the data directory).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from metric_anomaly_investigator.settings import Settings
from metric_anomaly_investigator.tui.app import InvestigatorApp

QUESTION = "Why did dau drop at the end of January?"
SIZE = (140, 42)
TIMEOUT_SECONDS = 300.0


def preserve_spaces(svg: str) -> str:
    """Keep the spaces at the edges of styled runs in every SVG renderer (librsvg drops them
    without ``xml:space="preserve"``, gluing "Enter" to "ask")."""
    return svg.replace("<svg ", '<svg xml:space="preserve" ', 1)


async def capture(settings: Settings) -> str:
    app = InvestigatorApp(settings=settings, model="autopilot", theme="textual-dark")
    async with app.run_test(size=SIZE) as pilot:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await pilot.pause()
            app.ask(QUESTION)  # queued until the warehouse is open, as a user's would be
            while app.queued or app.running or app.session is None or app.session.report is None:
                await pilot.pause(0.2)
            # Show the anomaly chart (the evidence) next to the report.
            detect = next((s for s in app.session.steps if s.action == "detect_anomaly"), None)
            if detect is not None:
                app.main.timeline.highlight_key(detect.key)
            await pilot.pause(0.5)
        return preserve_spaces(app.export_screenshot(title="Metric Anomaly Investigator"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.svg"))
    parser.add_argument("--data-dir", type=Path, help="default: $MAI_DATA_DIR or the user's")
    args = parser.parse_args()
    settings = Settings(model="autopilot")
    if args.data_dir is not None:
        settings = Settings(model="autopilot", data_dir=args.data_dir)
    args.out.write_text(asyncio.run(capture(settings)), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
