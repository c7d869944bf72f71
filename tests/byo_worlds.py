"""Hand-made "bring your own data" worlds (contract 3), built with pandas, not the generator.

They deliberately differ from the demo: dimensions ``device``/``market``/``tier``, integer user
ids, no users table, other dates. The planted story: from ``BREAK`` on, phone users in JP almost
all stop (about a quarter of DAU), and deployment ``d2`` (phone 1.2, regions JP) shipped that
morning while ``d3`` (desktop, DE+FR) shipped the same day elsewhere.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2025-03-01")
DAYS = 42
BREAK = date(2025, 3, 31)  # day 30
USERS = 300


def events(users: int = USERS, days: int = DAYS, seed: int = 1) -> pd.DataFrame:
    """One row per event: user_id (int), event_timestamp, device, market, tier, event_type."""
    rng = np.random.default_rng(seed)
    device = rng.choice(["phone", "tablet", "desktop"], users, p=[0.7, 0.1, 0.2])
    market = rng.choice(["DE", "FR", "JP", "MX"], users, p=[0.2, 0.2, 0.4, 0.2])
    tier = rng.choice(["gold", "basic"], users, p=[0.3, 0.7])
    day = np.repeat(np.arange(days), users)
    user = np.tile(np.arange(users), days)
    active = rng.random(days * users) < 0.5
    broken = (day >= (pd.Timestamp(BREAK) - START).days) & (device[user] == "phone")
    active &= ~(broken & (market[user] == "JP") & (rng.random(days * users) < 0.9))
    day, user = day[active], user[active]
    per = rng.integers(1, 4, len(user))
    day, user = np.repeat(day, per), np.repeat(user, per)
    seconds = rng.integers(0, 86_400, len(user))
    return pd.DataFrame(
        {
            "user_id": (user + 1).astype("int64"),
            "event_timestamp": START
            + pd.to_timedelta(day, unit="D")
            + pd.to_timedelta(seconds, unit="s"),
            "device": device[user],
            "market": market[user],
            "tier": tier[user],
            "event_type": rng.choice(["open", "click", "buy"], len(user)),
        }
    )


def deployments(regions: str = "list") -> pd.DataFrame:
    """d1 long before, d2 (the cause) and d3 (a decoy elsewhere) on the break day.

    ``regions``: "list" (a list column), "text" (comma-separated, "all" for global).
    """
    at = pd.Timestamp(BREAK)
    listed = [["all"], ["JP"], ["DE", "FR"]]
    return pd.DataFrame(
        {
            "deployment_id": ["d1", "d2", "d3"],
            "deployed_at": [START + pd.Timedelta(days=10), at + pd.Timedelta(hours=3), at],
            "platform": ["tablet", "phone", "desktop"],
            "app_version": ["1.1", "1.2", "1.3"],
            "regions": listed if regions == "list" else [",".join(r) for r in listed],
            "rollout_percentage": [100.0, 50.0, 100.0],
            "description": ["tablet release", "phone release", "desktop release"],
        }
    )


def annotations() -> pd.DataFrame:
    """A campaign (global) and a holiday scoped through a ``scope`` text column."""
    at = pd.Timestamp(BREAK)
    return pd.DataFrame(
        {
            "name": ["Spring sale", "Golden week"],
            "kind": ["campaign", "holiday"],
            "starts_at": [START + pd.Timedelta(days=5), at],
            "ends_at": [START + pd.Timedelta(days=7), at + pd.Timedelta(days=5)],
            "scope": ["all", "market=JP"],
        }
    )


def write_parquet_dir(out: Path, ev: pd.DataFrame | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (events() if ev is None else ev).to_parquet(out / "events.parquet")
    deployments().to_parquet(out / "deployments.parquet")
    annotations().to_parquet(out / "annotations.parquet")
    return out
