"""A test run of a workspace: what to run, and what a forge's push webhook says.

The commands (argv lists, run by the executor on the workspace's machine):

- ``install_argv``: a throwaway database with the dependencies of the modules to test,
  installed without tests (``-i`` on a database that does not exist creates it);
- ``test_argv``: the modules to test installed into it with ``--test-enable
  --test-tags`` (their ``at_install`` and ``post_install`` tests; the untouched
  dependencies' ``post_install`` tests stay out), ``--log-level=test
  --stop-after-init``, optionally under ``coverage run --branch`` on the modules' folders;
- ``drop_argv``: ``odoo-bin db drop`` (database and filestore);
- ``pytest_argv``: a repository without Odoo, tested with pytest, its JUnit XML read by
  ``parse_junit`` into the same results as an Odoo log (``testlog.TestResult``).

``verify_webhook`` checks a push webhook's signature in constant time: GitHub
(``X-Hub-Signature-256``), Gitea and Forgejo (``X-Gitea-Signature``,
``X-Forgejo-Signature``: HMAC-SHA256 of the body), GitLab (``X-Gitlab-Token``: the secret).
"""

import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET

from .testlog import MAX_TRACEBACK, TestResult

MODULE = re.compile(r"[A-Za-z0-9_]{1,100}")
DATABASE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}")
# A test tag spec as Odoo reads it: [-][tag][/module][:class][.method], comma-separated.
TEST_TAG = re.compile(r"-?\w*(/\w+)?(:\w+)?(\.\w+)?")
MAX_JUNIT = 64 * 2**20


class TestRunInputError(ValueError):
    """A value that cannot go into a test run."""

    __test__ = False


def check_modules(modules):
    names = [m for m in modules if m]
    bad = [m for m in names if not isinstance(m, str) or not MODULE.fullmatch(m)]
    if bad:
        raise TestRunInputError(f"Not module names: {', '.join(repr(b)[:100] for b in bad)}.")
    return names


def check_test_tags(tags):
    """Odoo's --test-tags value, or '' (each spec such as /sale, post_install, -slow,
    /sale:TestSale.test_price); anything else is refused."""
    if not tags:
        return ""
    if not isinstance(tags, str):
        raise TestRunInputError("Test tags are text, such as /sale,-slow.")
    specs = [spec.strip() for spec in tags.split(",") if spec.strip()]
    bad = [spec for spec in specs if not TEST_TAG.fullmatch(spec) or spec in ("", "-")]
    if bad or not specs:
        raise TestRunInputError(
            f"Not test tags: {', '.join(repr(b)[:100] for b in bad) or repr(tags)[:100]} (such "
            "as /sale, post_install, "
            "-slow or /sale:TestSale.test_price)."
        )
    return ",".join(specs)


def check_database(name):
    if not isinstance(name, str) or not DATABASE.fullmatch(name):
        raise TestRunInputError(f"{name!r} is not a database name.")
    return name


def default_tags(modules):
    return ",".join(f"/{m}" for m in modules)


def install_argv(python, odoo_bin, conf, database, modules, demo):
    """Create ``database`` with ``modules`` (at least base), no tests, no HTTP."""
    modules = check_modules(modules) or ["base"]
    argv = [python, odoo_bin, "-c", conf, "-d", check_database(database)]
    argv += ["-i", ",".join(modules), "--stop-after-init", "--no-http"]
    if not demo:
        argv.append("--without-demo=all")
    return argv


def test_argv(python, odoo_bin, conf, database, modules, tags, port, demo, coverage=None):
    """Install ``modules`` with their tests into ``database``.  ``coverage``: (data file,
    [source folders]) to run Odoo under ``coverage run --branch``."""
    modules = check_modules(modules)
    if not modules:
        raise TestRunInputError("No module to test.")
    argv = [python]
    if coverage:
        data_file, sources = coverage
        argv += ["-m", "coverage", "run", "--branch", f"--data-file={data_file}"]
        argv += [f"--source={','.join(sources)}"]
    argv += [odoo_bin, "-c", conf, "-d", check_database(database), "-i", ",".join(modules)]
    argv += ["--test-enable", f"--test-tags={check_test_tags(tags) or default_tags(modules)}"]
    argv += ["--log-level=test", "--stop-after-init", f"--http-port={int(port)}"]
    if not demo:
        argv.append("--without-demo=all")
    return argv


# $1 python, $2 odoo-bin, $3 configuration, $4 database: drop the database and its
# filestore (``odoo-bin db drop``), then remove the configuration file (it holds the
# PostgreSQL password).  A database that does not exist says so, with exit code 1.
_CLEANUP = r"""
py=$1 bin=$2 conf=$3 db=$4
"$py" "$bin" db -c "$conf" drop "$db"
rc=$?
rm -f -- "$conf"
exit $rc
"""


def cleanup_argv(python, odoo_bin, conf, database):
    return ["/bin/sh", "-c", _CLEANUP, "devops-test-cleanup", python, odoo_bin, conf,
            check_database(database)]  # fmt: skip


def absent_database(output):
    """Whether ``cleanup_argv``'s output says the database did not exist."""
    return "does not exist" in (output or "")


def coverage_json_argv(python, data_file, out_file):
    return [python, "-m", "coverage", "json", f"--data-file={data_file}", "-o", out_file]


def changed_lines_argv(base):
    """The lines changed from commit ``base`` to HEAD (``parse_changed_lines``)."""
    if not isinstance(base, str) or not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", base):
        raise TestRunInputError(f"'{base}' is not a commit id.")
    return ["git", "diff", "-U0", "--no-color", "--no-ext-diff", base, "HEAD", "--"]


_HUNK = re.compile(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def parse_changed_lines(text, root):
    """{absolute path: {line numbers}} of the lines ``git diff -U0`` adds or changes, the
    paths under ``root`` (the repository's folder)."""
    changed, current = {}, None
    for line in text.split("\n"):
        if line.startswith("+++ "):
            path = line[4:].strip()
            current = None
            if path.startswith("b/"):
                current = changed.setdefault(f"{root.rstrip('/')}/{path[2:]}", set())
            continue
        hunk = _HUNK.match(line)
        if hunk and current is not None:
            start, count = int(hunk[1]), int(hunk[2]) if hunk[2] is not None else 1
            current.update(range(start, start + count))
    return {path: lines for path, lines in changed.items() if lines}


def changed_coverage(text, changed, cwd="/"):
    """(covered, measured) statements among the ``changed`` lines ({path: {lines}}), from
    ``coverage json`` output (run in ``cwd``); (0, 0) when none of them is a statement."""
    files = _report_files(text, cwd)
    covered = measured = 0
    for path, lines in changed.items():
        data = files.get(path)
        if not data:
            continue
        executed = set(data.get("executed_lines") or ())
        missing = set(data.get("missing_lines") or ())
        covered += len(lines & executed)
        measured += len(lines & (executed | missing))
    return covered, measured


# $1 the folder Odoo saved a run's screenshots in: each PNG (at most 10, each under 5 MB) as
# a line "\036<path>" then its base64 on one line; the folder is removed afterwards.
_SCREENSHOTS = r"""
find "$1" -type f -name '*.png' -size -5M 2>/dev/null | head -n 10 | while IFS= read -r f; do
    printf '\036%s\n' "$f"
    base64 -w0 -- "$f"
    printf '\n'
done
rm -rf -- "$1"
"""


def screenshots_argv(folder):
    """One command for all the screenshots of a run (``parse_screenshots``)."""
    return ["/bin/sh", "-c", _SCREENSHOTS, "devops-screenshots", folder]


def parse_screenshots(text):
    """[(file name, base64 text)] from ``screenshots_argv`` output."""
    found, name = [], None
    for line in text.split("\n"):
        if line.startswith("\036"):
            name = line[1:].rsplit("/", 1)[-1]
        elif name and line.strip():
            found.append((name, line.strip()))
            name = None
    return found


def pytest_argv(python, junit_file, args=()):
    return [python, "-m", "pytest", f"--junitxml={junit_file}", "-q", *args]


def _report_files(text, cwd):
    """The files of a ``coverage json`` report, by absolute path (coverage writes those
    under its working directory ``cwd`` relative to it)."""
    try:
        files = json.loads(text).get("files") or {}
    except (ValueError, AttributeError):
        return {}
    base = cwd.rstrip("/")
    return {path if path.startswith("/") else f"{base}/{path}": data
            for path, data in files.items()}  # fmt: skip


def parse_coverage(text, module_paths, cwd="/"):
    """{module: percent of its statements and branches covered} from ``coverage json``
    output (run in ``cwd``); ``module_paths``: {module: its folder}."""
    files = _report_files(text, cwd)
    totals = {}
    for path, data in files.items():
        for module, folder in module_paths.items():
            if path == folder or path.startswith(folder.rstrip("/") + "/"):
                summary = data.get("summary") or {}
                covered = summary.get("covered_lines", 0) + summary.get("covered_branches", 0)
                total = summary.get("num_statements", 0) + summary.get("num_branches", 0)
                pair = totals.setdefault(module, [0, 0])
                pair[0] += covered
                pair[1] += total
                break
    return {m: round(100.0 * c / t, 1) if t else 100.0 for m, (c, t) in totals.items()}


def parse_junit(text, module="pytest"):
    """TestResults from a JUnit XML report (pytest's ``--junitxml``)."""
    if len(text) > MAX_JUNIT or "<!DOCTYPE" in text[:4096] or "<!ENTITY" in text:
        raise TestRunInputError("Not a JUnit report this app reads (too large, or a DTD).")
    root = ET.fromstring(text)  # noqa: S314 - no DTD, so no entity to expand
    results = []
    for case in root.iter("testcase"):
        classname = case.get("classname") or ""
        test_class = classname.rsplit(".", 1)[-1] or module
        result = TestResult(module, test_class[:200], (case.get("name") or "?")[:200])
        try:
            result.duration = max(0.0, float(case.get("time") or 0))
        except ValueError:
            result.duration = 0.0
        for tag, state in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            node = case.find(tag)
            if node is not None:
                result.state = state
                result.message = (node.get("message") or "")[:2000]
                result.traceback = (node.text or result.message)[:MAX_TRACEBACK]
                break
        results.append(result)
    return results


# --- Webhooks --------------------------------------------------------------------------------


def _lower(headers):
    return {str(k).lower(): str(v) for k, v in headers.items()}


def verify_webhook(headers, body, secret):
    """The forge whose signature of ``body`` (bytes) by ``secret`` is in ``headers``
    ('github', 'gitea', 'gitlab'), or None when no header holds a good one."""
    if not secret:
        return None
    headers = _lower(headers)
    key = secret.encode()
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    github = headers.get("x-hub-signature-256", "")
    if github and hmac.compare_digest(github.encode(), f"sha256={digest}".encode()):
        return "github"
    for name in ("x-gitea-signature", "x-forgejo-signature"):
        value = headers.get(name, "")
        if value and hmac.compare_digest(value.encode(), digest.encode()):
            return "gitea"
    token = headers.get("x-gitlab-token", "")
    if token and hmac.compare_digest(token.encode(), key):
        return "gitlab"
    return None


def push_branch(body):
    """The branch a push webhook's payload (bytes) is about, '' when it says none (a ping),
    None when it is not a push of a branch (a tag, a payload that is not JSON)."""
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    ref = payload.get("ref")
    if ref is None:
        return ""
    if isinstance(ref, str) and ref.startswith("refs/heads/"):
        return ref.removeprefix("refs/heads/")
    return None
