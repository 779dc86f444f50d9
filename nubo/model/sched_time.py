"""When a repeating scheduled action runs next: the calendar rules of REPEAT and DAYS.

A repetition keeps the wall-clock time of day of the action's first TIME, in the
core's time zone (``sched_timezone``; oned uses the front-end's local time), and falls
on one of DAYS: weekly 0-6 (0 is Sunday), monthly 1-31 (a month without that day is
skipped), yearly 0-365 (day of the year, 0 is January 1st; 365 exists in leap years
only). Hourly repeats every N hours from TIME, N the single DAYS value (1-168). Pure.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

NO_REPEAT, WEEKLY, MONTHLY, YEARLY, HOURLY = -1, 0, 1, 2, 3
END_NONE, END_NEVER, END_TIMES, END_DATE = -1, 0, 1, 2

#: REPEAT -> (lowest day, highest day, oned's message when DAYS leave the range).
DAILY_RANGES: dict[int, tuple[int, int, str]] = {
    WEEKLY: (0, 6, "Days in a week have to be in [0,6] range"),
    MONTHLY: (1, 31, "Days in a month have to be in [1,31] range"),
    YEARLY: (0, 365, "Days in a year have to be in [0,365] range"),
    HOURLY: (1, 168, "Hours have to be in [1,168] range"),
}
#: Days searched for the next date: day 365 of a year may be 8 years away (2096 -> 2104).
_HORIZON_DAYS = 366 * 9


def day_number(day: date, repeat: int) -> int:
    """The number DAYS uses for ``day`` under ``repeat`` (weekly, monthly, yearly)."""
    if repeat == WEEKLY:
        return (day.weekday() + 1) % 7
    if repeat == MONTHLY:
        return day.day
    return day.timetuple().tm_yday - 1


def next_time(first: int, repeat: int, days: tuple[int, ...], now: int,
              tz: tzinfo) -> int | None:
    """The first repetition strictly after both ``now`` and ``first`` (an epoch), or None
    if DAYS name no day that ever comes (e.g. day 365 with no leap year in reach)."""
    after = max(now, first)
    if repeat == HOURLY:
        step = days[0] * 3600
        return first + ((after - first) // step + 1) * step
    wanted = frozenset(days)
    time_of_day = datetime.fromtimestamp(first, tz).timetz().replace(tzinfo=None)
    day = datetime.fromtimestamp(after, tz).date()
    for _ in range(_HORIZON_DAYS):
        if day_number(day, repeat) in wanted:
            when = int(datetime.combine(day, time_of_day, tzinfo=tz).timestamp())
            if when > after:
                return when
        day += timedelta(days=1)
    return None
