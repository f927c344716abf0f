"""Parsing a 200 000-line Odoo test log into results (target: <= 2 s).

    python benchmarks/testlog_bench.py

The log is the real Odoo 18 log of engine/tests/data (six tests: passed, failed, error,
skipped, a failing subtest, an error logged), its test lines repeated with other class
names until the log holds 200 000 lines (tracebacks included).
"""

# pylint: disable=print-used
# (a command-line script: its figures go to standard output)

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from engine import testlog

with open(
    os.path.join(HERE, "..", "engine", "tests", "data", "odoo18_test.log"), encoding="utf-8"
) as f:
    lines = f.read().split("\n")
body = [line for line in lines if "devops_demo_tests" in line or not line[:4].isdigit()]
head = [line for line in lines if line not in body and "shutdown" not in line]
tail = [line for line in lines if "shutdown" in line]
out, copy = list(head), 0
while len(out) < 200_000:
    out += [line.replace("TestDemo", f"TestDemo{copy}") for line in body]
    copy += 1
text = "\n".join(out[:200_000] + tail)
times = []
for _ in range(5):
    started = time.perf_counter()
    log = testlog.parse(text)
    times.append(time.perf_counter() - started)
print(
    f"{log.lines} lines, {len(log.results)} tests ({log.count('failed')} failed), "
    f"{len(log.errors)} logged errors: median {statistics.median(times):.3f} s, "
    f"max {max(times):.3f} s (target <= 2 s)"
)
