"""Scheduled actions, pure: parsing and validation, and when a repetition runs next."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nubo.model.sched_action import (SchedAction, SchedActionError, after_run, parse,
                                     restore)
from nubo.model.sched_time import (DAILY_RANGES, END_DATE, END_TIMES, HOURLY, MONTHLY,
                                   NO_REPEAT, WEEKLY, YEARLY, day_number, next_time)
from nubo.template import VectorAttribute

UTC = timezone.utc
MADRID = ZoneInfo("Europe/Madrid")
T0 = 1_767_225_600  # 2026-01-01 00:00:00 UTC, a Thursday


def vec(**values: str) -> VectorAttribute:
    return VectorAttribute("SCHED_ACTION", values)


def make(origin: int = T0, **values: str) -> SchedAction:
    return parse(vec(**values), sched_id=7, vm_id=3, origin=origin)


# -- parsing ------------------------------------------------------------------------------

def test_parse_and_render_in_schema_order():
    a = make(ACTION="poweroff", TIME="+3600", REPEAT="0", DAYS="5, 1,1", END_TYPE="1",
             END_VALUE="4")
    assert (a.time, a.repeat, a.days, a.end_type, a.end_value) == (T0 + 3600, 0, (1, 5), 1, 4)
    assert a.pending and not a.due(T0) and a.due(T0 + 3600)
    v = a.to_vector()
    assert [k for k, _ in v.items()] == ["ID", "PARENT_ID", "TYPE", "ACTION", "ARGS", "TIME",
                                         "REPEAT", "DAYS", "END_TYPE", "END_VALUE", "DONE",
                                         "MESSAGE", "WARNING"]
    assert v.get("DAYS") == "1,5" and v.get("DONE") == "-1" and v.get("TYPE") == "VM"
    assert restore(v) == a


def test_absolute_time_and_defaults():
    a = make(ACTION="terminate-hard", TIME="1800000000")
    assert (a.time, a.repeat, a.days, a.end_type, a.end_value, a.done) == \
        (1_800_000_000, NO_REPEAT, (), -1, -1, -1)
    assert a.api_call() == ("one.vm.action", ["terminate-hard", 3])
    assert make(ACTION="snapshot-revert", TIME="1", ARGS="2").api_call() == \
        ("one.vm.snapshotrevert", [3, 2])
    assert make(ACTION="snapshot-create", TIME="1", ARGS="nightly").api_call() == \
        ("one.vm.snapshotcreate", [3, "nightly"])
    assert make(ACTION="disk-snapshot-create", TIME="1", ARGS="1, nightly").api_call() == \
        ("one.vm.disksnapshotcreate", [3, 1, "nightly"])
    assert make(ACTION="disk-snapshot-revert", TIME="1", ARGS="0,2").api_call() == \
        ("one.vm.disksnapshotrevert", [3, 0, 2])
    assert make(ACTION="disk-snapshot-delete", TIME="1", ARGS=" 2 , 0").api_call() == \
        ("one.vm.disksnapshotdelete", [3, 2, 0])


@pytest.mark.parametrize("values, message", [
    ({"TIME": "1"}, "No ACTION"),
    ({"ACTION": "explode", "TIME": "1"}, "explode is not supported"),
    ({"ACTION": "backup", "TIME": "1"}, "cannot be scheduled in nubo yet"),
    ({"ACTION": "stop"}, "Unable to parse the time value"),
    ({"ACTION": "stop", "TIME": "soon"}, "Unable to parse the time value"),
    ({"ACTION": "stop", "TIME": "+-5"}, "Unable to parse the time value"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "7", "DAYS": "1"}, "Wrong REPEAT value: 7"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "x"}, "REPEAT must be an integer"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "0"}, "Repeat set, but DAYS are empty"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "0", "DAYS": "7"}, r"in \[0,6\] range"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "1", "DAYS": "0"}, r"in \[1,31\] range"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "2", "DAYS": "366"}, r"in \[0,365\] range"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "3", "DAYS": "0"}, r"in \[1,168\] range"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "3", "DAYS": "1,2"}, "one DAYS value"),
    ({"ACTION": "stop", "TIME": "1", "REPEAT": "0", "DAYS": "mon"}, "list of numbers"),
    ({"ACTION": "stop", "TIME": "1", "END_TYPE": "3"}, "Wrong END_TYPE value: 3"),
    ({"ACTION": "stop", "TIME": "1", "END_TYPE": "1"}, "END_VALUE is empty"),
    ({"ACTION": "stop", "TIME": "1", "END_TYPE": "2", "END_VALUE": "-4"}, "not an epoch"),
    ({"ACTION": "snapshot-delete", "TIME": "1"}, "needs ARGS: the snapshot id"),
    ({"ACTION": "disk-snapshot-create", "TIME": "1", "ARGS": "nightly"},
     "needs ARGS: the disk id and the snapshot's name"),
    ({"ACTION": "disk-snapshot-revert", "TIME": "1", "ARGS": "0, last"},
     "needs ARGS: the disk id and the snapshot id"),
    ({"ACTION": "disk-snapshot-delete", "TIME": "1", "ARGS": "x,1"}, "needs ARGS: the disk id"),
    ({"ACTION": "stop", "TIME": "1", "WHEN": "now"}, "Unknown attribute WHEN"),
])
def test_bad_actions_say_what_is_wrong(values, message):
    with pytest.raises(SchedActionError, match=message):
        make(**values)


def test_update_keeps_what_is_not_said_and_the_record():
    a = make(ACTION="reboot", TIME="+60", REPEAT="3", DAYS="2")
    ran = after_run(a, T0 + 61, "boom", UTC)
    b = parse(vec(ACTION="poweroff"), sched_id=7, vm_id=3, origin=T0, previous=ran)
    assert (b.action, b.time, b.repeat, b.days) == ("poweroff", ran.time, HOURLY, (2,))
    assert (b.done, b.message) == (T0 + 61, "boom")
    c = parse(vec(REPEAT="-1"), sched_id=7, vm_id=3, origin=T0, previous=ran)
    assert c.repeat == NO_REPEAT and c.days == ()


@given(st.dictionaries(st.sampled_from(["ACTION", "TIME", "REPEAT", "DAYS", "END_TYPE",
                                        "END_VALUE", "ARGS", "WARNING"]),
                       st.text(alphabet="0123456789+-, abcdefghijklmnopqrstuvwxyz", max_size=12)))
@settings(max_examples=400, deadline=None)
def test_parse_never_crashes(values):
    try:
        a = make(**values)
    except SchedActionError as e:
        assert str(e)
    else:
        assert restore(a.to_vector()) == a


# -- next repetitions ---------------------------------------------------------------------

def test_weekly_on_monday_and_friday():
    a = make(ACTION="stop", TIME=str(T0 + 9 * 3600), REPEAT="0", DAYS="1,5")  # Thu 09:00
    ran = after_run(a, T0 + 9 * 3600, None, UTC)
    assert datetime.fromtimestamp(ran.time, UTC) == datetime(2026, 1, 2, 9, tzinfo=UTC)  # Fri
    again = after_run(ran, ran.time + 5, None, UTC)
    assert datetime.fromtimestamp(again.time, UTC) == datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_times_end_counts_every_run():
    a = make(ACTION="stop", TIME=str(T0), REPEAT="3", DAYS="1", END_TYPE="1", END_VALUE="2")
    first = after_run(a, T0, None, UTC)
    assert first.pending and first.end_value == 1 and first.time == T0 + 3600
    second = after_run(first, first.time, "failed", UTC)
    assert second.ended and not second.pending and second.message == "failed"


def test_missed_runs_are_not_made_up():
    a = make(ACTION="reboot", TIME=str(T0), REPEAT="3", DAYS="1")
    now = T0 + 10 * 3600 + 5  # ten repetitions missed while the core was down
    ran = after_run(a, now, None, UTC)
    assert ran.time == T0 + 11 * 3600 and not ran.due(now)


def test_date_end_stops_the_repetitions():
    a = make(ACTION="reboot", TIME=str(T0), REPEAT="3", DAYS="2", END_TYPE="2",
             END_VALUE=str(T0 + 3 * 3600))
    ran = after_run(a, T0, None, UTC)
    assert ran.time == T0 + 7200 and ran.pending
    ran = after_run(ran, ran.time, None, UTC)
    assert not ran.pending  # T0 + 4h is past the end


def test_a_one_off_action_ends_after_its_run():
    a = make(ACTION="terminate", TIME=str(T0))
    ran = after_run(a, T0 + 2, "VM is locked", UTC)
    assert not ran.pending and ran.done == T0 + 2 and ran.message == "VM is locked"


def test_yearly_day_365_waits_for_a_leap_year():
    first = int(datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp())
    nxt = next_time(first, YEARLY, (365,), first, UTC)
    assert datetime.fromtimestamp(nxt, UTC) == datetime(2028, 12, 31, 12, tzinfo=UTC)


_REPEATS = st.sampled_from([WEEKLY, MONTHLY, YEARLY, HOURLY])


@st.composite
def schedules(draw):
    repeat = draw(_REPEATS)
    low, high, _ = DAILY_RANGES[repeat]
    if repeat == HOURLY:
        days = (draw(st.integers(low, high)),)
    else:
        days = tuple(sorted(draw(st.sets(st.integers(low, high), min_size=1, max_size=4))))
    first = draw(st.integers(T0 - 400 * 86400, T0 + 400 * 86400))
    now = draw(st.integers(T0 - 400 * 86400, T0 + 800 * 86400))
    tz = draw(st.sampled_from([UTC, MADRID]))
    return repeat, days, first, now, tz


def _wall_time_exists(day, time_of_day, tz) -> bool:
    wall = datetime.combine(day, time_of_day, tzinfo=tz)
    return datetime.fromtimestamp(wall.timestamp(), tz).time() == time_of_day


def test_a_wall_time_that_spring_forward_skips_runs_an_hour_later():
    first = int(datetime(2025, 6, 1, 2, 30, tzinfo=MADRID).timestamp())  # a Sunday, 02:30
    now = int(datetime(2026, 3, 28, 12, tzinfo=MADRID).timestamp())
    nxt = next_time(first, WEEKLY, (0,), now, MADRID)
    assert datetime.fromtimestamp(nxt, MADRID) == datetime(2026, 3, 29, 3, 30, tzinfo=MADRID)


@given(schedules())
@settings(max_examples=500, deadline=None)
def test_next_time_is_after_now_on_one_of_days_and_the_first_such(schedule):
    repeat, days, first, now, tz = schedule
    nxt = next_time(first, repeat, days, now, tz)
    if nxt is None:
        assert repeat in (MONTHLY, YEARLY) and min(days) >= 29 or days == (365,)
        return
    assert nxt > now and nxt > first
    if repeat == HOURLY:
        assert (nxt - first) % (days[0] * 3600) == 0 and nxt - days[0] * 3600 <= max(now, first)
        return
    local = datetime.fromtimestamp(nxt, tz)
    assert day_number(local.date(), repeat) in days
    start = datetime.fromtimestamp(first, tz)
    assume(local.utcoffset() == start.utcoffset())  # across a DST change the hour moves
    if not _wall_time_exists(local.date(), start.time(), tz):
        # Spring forward skipped the wall time that day: the run comes an hour later.
        assert (local - timedelta(hours=1)).time() == start.time()
        return
    assert local.time() == start.time()
    # No day between max(now, first) and it would have done.
    after = datetime.fromtimestamp(max(now, first), tz).date()
    day = after
    while day < local.date():
        when = datetime.combine(day, start.time(), tzinfo=tz).timestamp()
        assert not (day_number(day, repeat) in days and when > max(now, first)), day
        day += timedelta(days=1)


@given(schedules(), st.sampled_from([END_TIMES, END_DATE]), st.integers(1, 5))
@settings(max_examples=300, deadline=None)
def test_repetitions_never_run_past_the_end(schedule, end_type, count):
    repeat, days, first, now, tz = schedule
    end_value = count if end_type == END_TIMES else first + count * 86400 * 3
    a = SchedAction(1, 1, "reboot", "", first, repeat, days, end_type, end_value)
    runs, clock = 0, first
    while a.pending and runs < 2000:
        assert end_type != END_DATE or a.time <= end_value
        clock = max(clock, a.time)
        a = after_run(a, clock, None, tz)
        runs += 1
    assert not a.pending
    if end_type == END_TIMES:
        assert runs == count
