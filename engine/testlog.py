"""Odoo test logs (``--test-enable --log-level=test``) read into results, test by test.

Odoo 18's test result (``odoo/tests/result.py``) logs, through the logger of the test's own
module (``odoo.addons.<module>.tests.<file>``):

- ``Starting <Class>.<method> ...`` when a test starts;
- ``FAIL: <Class>.<method>`` or ``ERROR: <Class>.<method>`` (``Subtest <Class>.<method>
  (<params>)`` for a subtest) followed by its traceback, at level ERROR;
- ``skipped <Class>.<method> : <reason>``;
- after the ``at_install`` tests of each module, from ``odoo.modules.loading``: ``Module <m>:
  N failures, N errors of N tests`` (and ``At least one test failed when loading the
  modules.``), summaries rather than errors;
- at the end of each phase, from ``odoo.tests.result``: ``N failed, N error(s) of N tests
  when loading database '<db>'``; and ``Initiating shutdown`` when the server stops cleanly.

``parse`` turns a log into a :class:`TestLog`: one :class:`TestResult` per test (state
``passed``, ``failed``, ``error`` or ``skipped``; duration from its start to the next
record of the same process that is not part of it; traceback), the ERROR and CRITICAL lines
that belong to no test failure (runbot counts them: a test that logs an error is not a green
test), the summaries, and whether the server shut down cleanly.  A log without its clean
shutdown (a crash, a kill, a timeout) is a failed run, never a green one (``succeeded``).
"""

import dataclasses
import datetime
import re

_RECORD = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\d+) (DEBUG|INFO|WARNING|ERROR|CRITICAL|\S+) "
    r"(\S+) (\S+): (.*)"
)
_TEST_LOGGER = re.compile(r"odoo\.addons\.(\w+)\.tests(?:\.|$)")
_STARTING = re.compile(r"Starting (\w+)\.(\w+) \.\.\.\s*$")
_OUTCOME = re.compile(r"(FAIL|ERROR): (?:Subtest )?(\w+)\.(\w+)(?: \((.*)\))?\s*$")
_SKIPPED = re.compile(r"skipped (\w+)\.(\w+) : (.*)$")
_SUMMARY = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests")
# What module loading says after the at_install tests of a module, and at the end: a
# summary of failures already recorded, not an error of its own.
_LOADING_SUMMARY = re.compile(
    r"Module \w+: \d+ failures, \d+ errors of \d+ tests\s*$"
    r"|At least one test failed when loading the modules\.\s*$"
)
MAX_TRACEBACK = 20_000


@dataclasses.dataclass
class TestResult:
    module: str
    test_class: str
    method: str
    state: str = "passed"  # passed, failed, error, skipped
    duration: float = 0.0
    traceback: str = ""
    message: str = ""  # the skip reason, or the last line of the traceback
    started: datetime.datetime | None = None

    __test__ = False  # not a pytest test class

    @property
    def key(self):
        return (self.module, self.test_class, self.method)


@dataclasses.dataclass
class LogError:
    logger: str
    level: str
    message: str
    when: datetime.datetime | None = None
    test: tuple | None = None  # (module, class, method) of the test running then


@dataclasses.dataclass
class TestLog:
    results: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)  # LogError outside test failures
    summaries: list = dataclasses.field(default_factory=list)  # (failed, errors, tests)
    clean_shutdown: bool = False
    lines: int = 0

    def count(self, state):
        return sum(1 for result in self.results if result.state == state)

    @property
    def succeeded(self):
        """Every test passed or was skipped, no error was logged, and the server stopped
        cleanly after at least one test."""
        return (
            self.clean_shutdown
            and bool(self.results)
            and not self.errors
            and all(result.state in ("passed", "skipped") for result in self.results)
            and not any(failed or errors for failed, errors, _tests in self.summaries)
        )


def _when(stamp):
    """A log's "YYYY-MM-DD HH:MM:SS,mmm" (what strptime reads, much faster)."""
    return datetime.datetime(
        int(stamp[0:4]),
        int(stamp[5:7]),
        int(stamp[8:10]),
        int(stamp[11:13]),
        int(stamp[14:16]),
        int(stamp[17:19]),
        int(stamp[20:23]) * 1000,
    )


def parse(text):
    """The :class:`TestLog` of an Odoo test log (str)."""
    log = TestLog()
    results = {}
    running = {}  # pid: the TestResult started last in that process
    record = None  # [when, pid, level, logger, message lines]

    def close(pid, when):
        result = running.pop(pid, None)
        if result is not None and result.started is not None and when is not None:
            result.duration = max(0.0, (when - result.started).total_seconds())

    def flush():
        if record is not None:
            _handle(log, results, running, record, close)

    for line in text.split("\n"):
        log.lines += 1
        match = _RECORD.match(line)
        if match is None:
            if record is not None:
                record[4].append(line)
            continue
        flush()
        stamp, pid, level, _db, logger, message = match.groups()
        record = [_when(stamp), pid, level, logger, [message]]
    flush()
    for pid in list(running):
        close(pid, None)
    log.results = list(results.values())
    return log


def _handle(log, results, running, record, close):
    when, pid, level, logger, lines = record
    message = lines[0]
    module = _TEST_LOGGER.match(logger)
    if module:
        start = _STARTING.match(message)
        if start:
            close(pid, when)
            result = TestResult(module[1], start[1], start[2], started=when)
            results[result.key] = result
            running[pid] = result
            return
        outcome = _OUTCOME.match(message) if level == "ERROR" else None
        if outcome:
            kind, test_class, method, _params = outcome.groups()
            key = (module[1], test_class, method)
            result = results.setdefault(key, TestResult(*key, started=when))
            traceback = "\n".join([message, *lines[1:]]).strip()
            if result.state != "error":
                result.state = "error" if kind == "ERROR" else "failed"
            result.traceback = (
                f"{result.traceback}\n\n{traceback}" if result.traceback else traceback
            )[:MAX_TRACEBACK]
            last = [row for row in lines[1:] if row.strip()]
            result.message = (last[-1].strip() if last else message)[:2000]
            return
        skipped = _SKIPPED.match(message)
        if skipped:
            key = (module[1], skipped[1], skipped[2])
            result = results.setdefault(key, TestResult(*key, started=when))
            result.state, result.message = "skipped", skipped[3].strip()[:2000]
            close(pid, when)
            return
    if logger == "odoo.modules.loading" and _LOADING_SUMMARY.match(message):
        close(pid, when)
        return
    if logger == "odoo.tests.result":
        summary = _SUMMARY.search(message)
        if summary:
            log.summaries.append(tuple(int(number) for number in summary.groups()))
            close(pid, when)
            return
    if logger == "odoo.service.server" and message.startswith("Initiating shutdown"):
        log.clean_shutdown = True
        close(pid, when)
        return
    if level in ("ERROR", "CRITICAL"):
        current = running.get(pid)
        log.errors.append(
            LogError(
                logger,
                level,
                "\n".join(lines).strip()[:MAX_TRACEBACK],
                when,
                current.key if current else None,
            )
        )
