"""The DORA metrics on a fixed history: every figure computed by hand."""

import datetime

import pytest

from engine import dora
from engine.dora import Change, Deployment, Incident


def at(day, hour=0):
    return datetime.datetime(2026, 11, day, hour)


HISTORY = {
    "deployments": [
        Deployment(1, at(2, 10), True),
        Deployment(2, at(3, 10), True),  # followed by incident 1 (5 h later): a failure
        Deployment(3, at(5, 10), False),  # rolled back: a failure
        Deployment(4, at(8, 10), True),
        Deployment(5, at(9, 10), True),  # incident 2 starts 30 h later: not within 24 h
        Deployment(6, at(20, 10), True),  # outside the period
    ],
    "changes": [
        Change(10, at(1, 10), at(2, 10)),  # 24 h
        Change(11, at(1, 4), at(3, 10)),  # 54 h
        Change(12, at(6, 10), at(8, 10)),  # 48 h
        Change(13, None, at(8, 10)),  # no commit yet: left out
        Change(14, at(6, 10), None),  # not deployed: left out
        Change(15, at(10, 10), at(20, 10)),  # deployed after the period
    ],
    "incidents": [
        Incident(1, at(3, 15), at(3, 17)),  # 2 h
        Incident(2, at(10, 16), at(11, 4)),  # 12 h
        Incident(3, at(7, 0), None),  # still open (38 h after deployment 3)
    ],
}


def test_metrics_on_a_fixed_history():
    found = dora.metrics(**HISTORY, date_from=at(1), date_to=at(11))
    assert found["deployment_frequency"] == pytest.approx(4 / 10)  # 1, 2, 4, 5 over 10 days
    assert found["deployment_frequency_ids"] == [1, 2, 4, 5]
    assert found["lead_time_hours"] == 48.0  # median of 24, 54, 48
    assert found["lead_time_hours_ids"] == [10, 11, 12]
    assert found["change_failure_rate"] == pytest.approx(100 * 2 / 5)
    assert found["change_failure_rate_ids"] == [2, 3]
    assert found["time_to_restore_hours"] == 2.0  # incident 2 ends on the 11th: outside
    assert found["time_to_restore_hours_ids"] == [1]
    wider = dora.metrics(**HISTORY, date_from=at(1), date_to=at(30))
    assert wider["time_to_restore_hours"] == 7.0  # median of 2 and 12
    assert wider["lead_time_hours_ids"] == [10, 11, 12, 15]


def test_no_data_is_none_not_zero():
    found = dora.metrics([], [], [], at(1), at(2))
    assert found["deployment_frequency"] == 0.0
    assert found["lead_time_hours"] is None
    assert found["change_failure_rate"] is None
    assert found["time_to_restore_hours"] is None


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError):
        dora.metrics([], [], [], at(2), at(1))


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("deployment_frequency", 2.0, "elite"),
        ("deployment_frequency", 0.2, "high"),
        ("deployment_frequency", 0.05, "medium"),
        ("deployment_frequency", 0.01, "low"),
        ("lead_time_hours", 3.0, "elite"),
        ("lead_time_hours", 1000.0, "low"),
        ("change_failure_rate", 12.0, "medium"),
        ("time_to_restore_hours", 0.5, "elite"),
        ("time_to_restore_hours", None, None),
    ],
)
def test_levels(name, value, expected):
    assert dora.level(name, value) == expected


def test_an_incident_elsewhere_is_not_the_deployments_failure():
    deployments = [Deployment(1, at(2, 10), True, "prod-a")]
    period = (at(1), at(3))
    elsewhere = [Incident(1, at(2, 12), at(2, 13), "prod-b")]
    here = [Incident(2, at(2, 12), at(2, 13), "prod-a")]
    assert dora.metrics(deployments, [], elsewhere, *period)["change_failure_rate"] == 0.0
    assert dora.metrics(deployments, [], here, *period)["change_failure_rate"] == 100.0
