"""The four DORA delivery metrics, from plain facts (the app's own records, read by the
models): production deployments, changes with their first commit and their production
deployment, and incidents.

- *deployment frequency*: successful production deployments in the period, per day;
- *lead time for changes*: first commit of a change → the end of the production deployment
  that brought it, the median over the changes deployed in the period (hours);
- *change failure rate*: the production deployments of the period that failed, were rolled
  back, or were followed by an incident within ``failure_window``, over all of them (%);
- *time to restore*: the median duration of the incidents that ended in the period (hours).

Each figure comes with the ids it was computed from (the screens open those records).  A
figure without data is None, never 0.
"""

import bisect
import dataclasses
import datetime
import statistics

HOUR = 3600.0


@dataclasses.dataclass(frozen=True)
class Deployment:
    id: int
    date: datetime.datetime  # when it ended
    ok: bool  # done (not failed, not rolled back)
    place: object = None  # where (an instance): only its incidents count as its failure


@dataclasses.dataclass(frozen=True)
class Change:
    id: int
    first_commit: datetime.datetime | None
    deployed: datetime.datetime | None  # its first production deployment's end


@dataclasses.dataclass(frozen=True)
class Incident:
    id: int
    start: datetime.datetime
    end: datetime.datetime | None  # None: still open
    place: object = None


def _within(moment, date_from, date_to):
    return moment is not None and date_from <= moment < date_to


def metrics(deployments, changes, incidents, date_from, date_to,
            failure_window=datetime.timedelta(hours=24)):  # fmt: skip
    """{name: value, name_ids: [ids]} of the four metrics over [date_from, date_to)."""
    if date_to <= date_from:
        raise ValueError("The period ends before it starts.")
    days = (date_to - date_from).total_seconds() / 86400
    in_period = sorted(
        (d for d in deployments if _within(d.date, date_from, date_to)), key=lambda d: d.date
    )
    good = [d for d in in_period if d.ok]
    lead = sorted(
        (c for c in changes if c.first_commit and _within(c.deployed, date_from, date_to)),
        key=lambda c: c.id,
    )
    starts = _starts_by_place(incidents)
    failed = [d for d in in_period if not d.ok or _followed(d, starts, failure_window)]
    restored = sorted(
        (i for i in incidents if _within(i.end, date_from, date_to)), key=lambda i: i.id
    )
    return {
        "deployment_frequency": len(good) / days,
        "deployment_frequency_ids": [d.id for d in good],
        "lead_time_hours": _median_hours(c.deployed - c.first_commit for c in lead),
        "lead_time_hours_ids": [c.id for c in lead],
        "change_failure_rate": 100.0 * len(failed) / len(in_period) if in_period else None,
        "change_failure_rate_ids": [d.id for d in failed],
        "time_to_restore_hours": _median_hours(i.end - i.start for i in restored),
        "time_to_restore_hours_ids": [i.id for i in restored],
    }


def _followed(deployment, by_place, window):
    """Did an incident of its place start within ``window`` after ``deployment``?"""
    places = list(by_place) if deployment.place is None else [deployment.place, None]
    end = deployment.date + window
    for place in places:
        starts = by_place.get(place, [])
        index = bisect.bisect_left(starts, deployment.date)
        if index < len(starts) and starts[index] < end:
            return True
    return False


def _starts_by_place(incidents):
    """{place: sorted incident starts} (incidents without a place count everywhere)."""
    found = {}
    for incident in incidents:
        found.setdefault(incident.place, []).append(incident.start)
    for starts in found.values():
        starts.sort()
    return found


def _median_hours(deltas):
    hours = [max(delta.total_seconds(), 0.0) / HOUR for delta in deltas]
    return statistics.median(hours) if hours else None


# The DORA report's performance levels (2023): (elite, high, medium) upper bounds; above the
# medium one is "low".  Frequency is per day (higher is better); the others lower is better.
LEVELS = {
    "deployment_frequency": (1.0, 1 / 7, 1 / 30),  # daily, weekly, monthly
    "lead_time_hours": (24.0, 24.0 * 7, 24.0 * 30),
    "change_failure_rate": (5.0, 10.0, 15.0),
    "time_to_restore_hours": (1.0, 24.0, 24.0 * 7),
}


def level(name, value):
    """ "elite", "high", "medium" or "low" for a metric's value (None: no data)."""
    if value is None:
        return None
    elite, high, medium = LEVELS[name]
    if name == "deployment_frequency":
        return "elite" if value >= elite else "high" if value >= high else (
            "medium" if value >= medium else "low")  # fmt: skip
    return "elite" if value <= elite else "high" if value <= high else (
        "medium" if value <= medium else "low")  # fmt: skip
