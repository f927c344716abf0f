import datetime

from engine import uptime

T0 = datetime.datetime(2026, 11, 30, 12, 0, 0)


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


def test_a_one_minute_outage_counts_for_one_minute():
    day = datetime.timedelta(days=1)
    history = [
        ("running", T0 - 2 * day, at(-30)),
        ("down", at(-30), at(-29)),
        ("running", at(-29), None),
    ]
    value = uptime.uptime(history, T0 - day, T0)
    assert abs(value - 100 * (1440 - 1) / 1440) < 1e-9


def test_no_data_is_none_never_zero():
    assert uptime.uptime([], at(-60), T0) is None
    assert uptime.uptime([("stopped", at(-60), None)], at(-60), T0) is None


def test_stopped_time_is_left_out():
    history = [
        ("running", at(-60), at(-30)),
        ("stopped", at(-30), at(-10)),
        ("down", at(-10), None),
    ]
    up, observed = uptime.up_and_observed(history, at(-60), T0)
    assert (up, observed) == (30 * 60, 40 * 60)


def test_maintenance_is_left_out():
    history = [
        ("running", at(-60), at(-20)),
        ("down", at(-20), at(-10)),
        ("running", at(-10), None),
    ]
    excluded = [(at(-25), at(-5))]
    up, observed = uptime.up_and_observed(history, at(-60), T0, excluded)
    assert (up, observed) == (40 * 60, 40 * 60)  # the outage fell inside the window


def test_states_before_and_after_the_window():
    history = [("down", at(-600), at(-61)), ("running", at(-61), None)]
    assert uptime.uptime(history, at(-60), T0) == 100.0


def test_per_day():
    day = datetime.timedelta(days=1)
    history = [("running", T0 - 3 * day, T0 - day), ("down", T0 - day, None)]
    days = uptime.per_day(history, 3, T0)
    assert [d.day for d, _ in days] == [28, 29, 30]
    assert days[0][1] == 100.0
    assert days[2][1] == 0.0


def test_always_up_is_exactly_100():
    """Many odd-length running spans with windows cut out: 100.0, not 99.99999999999999."""
    start = T0 - datetime.timedelta(hours=20)
    history, windows = [], []
    for i in range(300):
        low = start + datetime.timedelta(seconds=i * 97.123457)
        history.append(("running", low, low + datetime.timedelta(seconds=97.123457)))
        windows.append(
            (low + datetime.timedelta(seconds=3.3), low + datetime.timedelta(seconds=5.7))
        )
    value = uptime.uptime(history, T0 - datetime.timedelta(days=1), T0, windows)
    assert value == 100.0
