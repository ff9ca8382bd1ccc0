"""When cron and interval triggers fire (docs/triggers.md).

Cron expressions are evaluated by cronsim: a small, dependency-free, well-kept parser that
follows Debian cron's DST rules (a skipped local time fires once after the jump, a repeated
one fires once), accepts 5 fields or 6 with seconds first and reports bad fields clearly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from nopflow.model import CronTrigger, IntervalTrigger


class TimingError(ValueError):
    """A cron expression or time zone that cannot be used; ``str()`` says what to fix."""


def local_zone() -> tzinfo:
    """The machine's IANA zone (DST-aware) when it can be named, else its current offset."""
    name = os.environ.get("TZ", "").lstrip(":")
    candidates = [name] if name else []
    try:
        target = Path("/etc/localtime").resolve()
        parts = target.parts
        if "zoneinfo" in parts:
            candidates.append("/".join(parts[parts.index("zoneinfo") + 1:]))
    except OSError:
        pass
    for candidate in candidates:
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return datetime.now().astimezone().tzinfo or timezone.utc


def zone(name: str | None) -> tzinfo:
    """The zone a cron trigger names (None: local time); `TimingError` for an unknown name."""
    if not name:
        return local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimingError(f"timezone '{name}' is not a known IANA time zone "
                          "(e.g. 'Europe/Berlin', 'America/New_York', 'UTC')") from None


def check_cron(expression: str) -> None:
    """Raise `TimingError` naming what is wrong with a cron expression."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise TimingError(f"cron '{expression}' has {len(fields)} fields; write 5 (minute "
                          "hour day month weekday) or 6 with seconds first")
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=timezone.utc))
    except CronSimError as exc:
        raise TimingError(f"cron '{expression}': {str(exc).lower()}") from None


def cron_times(trigger: CronTrigger, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after ``after``, in the trigger's zone (aware datetimes)."""
    check_cron(trigger.cron)
    tz = zone(trigger.timezone)
    yield from CronSim(trigger.cron, after.astimezone(tz))  # strictly after `after`


def in_words(trigger: object) -> str | None:
    """A cron trigger's schedule in words ("At 07:00, Monday through Friday"); None for others."""
    if not isinstance(trigger, CronTrigger):
        return None
    from cron_descriptor import Options, get_description  # only the editor needs it

    check_cron(trigger.cron)
    options = Options()
    options.use_24hour_time_format = True
    return get_description(trigger.cron, options)


def next_times(trigger: object, after: datetime, count: int = 3,
               started: datetime | None = None) -> list[datetime]:
    """The next ``count`` fire times of a cron or interval trigger (empty for others).

    An interval counts from ``started`` (the scheduler's start), or from ``after``.
    """
    if isinstance(trigger, CronTrigger):
        out = []
        for when in cron_times(trigger, after):
            out.append(when)
            if len(out) == count:
                break
        return out
    if isinstance(trigger, IntervalTrigger):
        base = started or after
        step = timedelta(seconds=trigger.seconds)
        k = max(1, int((after - base) / step) + 1)
        return [(base + step * (k + i)).astimezone() for i in range(count)]
    return []
