"""Times as staff read them: China Standard Time (UTC+8, no daylight saving)."""

from __future__ import annotations

import datetime as dt

CST = dt.timezone(dt.timedelta(hours=8), "CST")


def local_time(at: dt.datetime) -> str:
    """``2024-05-01 09:30:05`` in China Standard Time (stored times are UTC)."""
    if at.tzinfo is None:  # SQLite may hand back naive UTC
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
