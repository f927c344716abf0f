import os

from engine import testlog

DATA = os.path.join(os.path.dirname(__file__), "data", "odoo18_test.log")


def read_fixture():
    # A real Odoo 18 log: a module with a passing, a failing, an erroring, a skipped test,
    # a failing subtest and a test that logs an error (--test-enable --log-level=test).
    with open(DATA, encoding="utf-8") as handle:
        return handle.read()


def test_real_odoo_18_log():
    log = testlog.parse(read_fixture())
    results = {result.method: result for result in log.results}
    assert sorted(results) == [
        "test_errors",
        "test_fails",
        "test_logs_an_error",
        "test_passes",
        "test_skipped",
        "test_subtests",
    ]
    assert {r.module for r in log.results} == {"devops_demo_tests"}
    assert {r.test_class for r in log.results} == {"TestDemo"}
    assert results["test_passes"].state == "passed"
    assert 0.15 < results["test_passes"].duration < 5  # it sleeps 0.2 s
    assert results["test_fails"].state == "failed"
    assert results["test_fails"].message == "AssertionError: 2 != 3 : arithmetic"
    assert "line 17, in test_fails" in results["test_fails"].traceback
    assert results["test_errors"].state == "error"
    assert results["test_errors"].message == "ValueError: boom"
    assert results["test_skipped"].state == "skipped"
    assert results["test_skipped"].message == "not today"
    assert results["test_subtests"].state == "failed"
    assert "(value=2)" in results["test_subtests"].traceback
    assert results["test_logs_an_error"].state == "passed"
    assert [e.message for e in log.errors] == ["an error logged by the test"]
    assert log.errors[0].test == ("devops_demo_tests", "TestDemo", "test_logs_an_error")
    assert log.summaries == [(2, 1, 6)]
    assert log.clean_shutdown
    assert not log.succeeded
    assert (log.count("passed"), log.count("failed"), log.count("error")) == (2, 2, 1)


def test_a_log_without_its_clean_shutdown_is_never_green():
    text = read_fixture()
    lines = [
        line
        for line in text.split("\n")
        if "FAIL" not in line and "ERROR" not in line and "Traceback" not in line
    ]
    green = "\n".join(lines)
    log = testlog.parse(green)
    assert log.clean_shutdown
    cut = green[: green.index("Initiating shutdown")]
    crashed = testlog.parse(cut)
    assert not crashed.clean_shutdown
    assert not crashed.succeeded
    assert not testlog.parse("").succeeded  # no test at all


def test_a_green_log():
    text = (
        "2026-11-30 10:00:00,000 1 INFO db odoo.addons.m.tests.test_a: Starting TestA.test_x ...\n"
        "2026-11-30 10:00:01,500 1 INFO db odoo.addons.m.tests.test_a: Starting TestA.test_y ...\n"
        "2026-11-30 10:00:02,000 1 INFO db odoo.tests.stats: m: 2 tests 2.00s 10 queries\n"
        "2026-11-30 10:00:02,100 1 INFO db odoo.service.server: Initiating shutdown\n"
    )
    log = testlog.parse(text)
    assert log.succeeded
    durations = {r.method: r.duration for r in log.results}
    assert durations == {"test_x": 1.5, "test_y": 0.6}


def test_hostile_lines_are_data():
    text = "\n".join(
        [
            "2026-11-30 10:00:00,000 1 ERROR db odoo.addons.m.tests.t: FAIL: TestA.test_x",
            "\x00\x1b[31m garbage; $(rm -rf /)",
            "not a record at all",
            "2026-11-30 10:00:00,000 1 ERROR db some.logger: boom",
        ]
    )
    log = testlog.parse(text)
    assert log.results[0].state == "failed"
    assert "garbage" in log.results[0].traceback
    assert [e.logger for e in log.errors] == ["some.logger"]


def test_real_at_install_log_of_two_modules():
    # A real Odoo 18 log: two generated modules, at_install tests (the Test stage's own
    # test modules, engine-side): module loading's summaries are not errors.
    path = os.path.join(os.path.dirname(__file__), "data", "odoo18_at_install.log")
    with open(path, encoding="utf-8") as handle:
        log = testlog.parse(handle.read())
    states = {(r.module, r.method): r.state for r in log.results}
    assert states == {
        ("devops_t_core", "test_pass"): "passed",
        ("devops_t_core", "test_fail"): "failed",
        ("devops_t_core", "test_error"): "error",
        ("devops_t_core", "test_skip"): "skipped",
        ("devops_t_core", "test_flaky"): "passed",
        ("devops_t_app", "test_app_ok"): "failed",
    }
    assert log.errors == []
    assert log.summaries == [(2, 1, 6)]
    assert log.clean_shutdown and not log.succeeded
    assert "broken app" in next(r for r in log.results if r.method == "test_app_ok").traceback
