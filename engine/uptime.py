"""Uptime from state intervals: every state an instance was in, from when to when.

An instance's history is a list of ``(state, start, end)`` (``end`` None: still in it).
Over a window, the time *up* is the time spent ``running``; the time *observed* is the
time in any state but ``stopped`` (stopped on purpose is no outage) and ``starting`` (a start
not yet checked is no outage either: a restart is, the service being away); excluded periods
(maintenance windows) count as neither.  Uptime is up / observed, or None when nothing was
observed (no data yet: never 0 %).  A one-minute outage counts for one minute, whatever the
sampling of the monitor.
"""

import datetime

UP_STATES = ("running",)
UNOBSERVED_STATES = ("stopped", "starting")


def _overlap(start, end, since, until):
    """Seconds of [start, end) inside [since, until)."""
    low, high = max(start, since), min(end, until)
    return max(0.0, (high - low).total_seconds())


def _subtract(start, end, excluded):
    """The parts of [start, end) outside the excluded periods (sorted, may overlap)."""
    parts = [(start, end)]
    for ex_start, ex_end in excluded:
        kept = []
        for low, high in parts:
            if ex_end <= low or ex_start >= high:
                kept.append((low, high))
                continue
            if low < ex_start:
                kept.append((low, ex_start))
            if ex_end < high:
                kept.append((ex_end, high))
        parts = kept
    return parts


def up_and_observed(intervals, since, until, excluded=()):
    """(seconds up, seconds observed) of ``intervals`` in [since, until), less ``excluded``."""
    up = observed = 0.0
    for state, start, end in intervals:
        end = end or until
        if state in UNOBSERVED_STATES or end <= since or start >= until:
            continue
        for low, high in _subtract(max(start, since), min(end, until), excluded):
            seconds = _overlap(low, high, since, until)
            observed += seconds
            if state in UP_STATES:
                up += seconds
    return up, observed


def uptime(intervals, since, until, excluded=()):
    """Uptime in % over [since, until), or None when nothing was observed."""
    up, observed = up_and_observed(intervals, since, until, excluded)
    if observed <= 0:
        return None
    if observed - up < 1e-6:  # all up: exactly 100, not 99.99999999999999 out of float sums
        return 100.0
    return 100.0 * up / observed


def per_day(intervals, days, until, excluded=()):
    """[(day start, uptime % or None)] for the ``days`` days before ``until`` (oldest first),
    each day a 24-hour slice ending at ``until``'s midnight or at ``until``."""
    midnight = until.replace(hour=0, minute=0, second=0, microsecond=0)
    result = []
    for back in range(days - 1, -1, -1):
        start = midnight - datetime.timedelta(days=back)
        end = min(start + datetime.timedelta(days=1), until)
        result.append((start, uptime(intervals, start, end, excluded)))
    return result
