import hashlib
import hmac
import json
import os
import subprocess
import sys
import textwrap

import pytest

from engine import testrun


def test_install_and_test_argv():
    argv = testrun.install_argv("/v/bin/python", "/o/odoo-bin", "/c.conf", "db_1", [], False)
    assert argv == ["/v/bin/python", "/o/odoo-bin", "-c", "/c.conf", "-d", "db_1", "-i",
                    "base", "--stop-after-init", "--no-http", "--without-demo=all"]  # fmt: skip
    argv = testrun.test_argv("py", "bin", "c", "db", ["a", "b"], "", 18069, True)
    assert "--test-tags=/a,/b" in argv
    assert "--test-enable" in argv and "--log-level=test" in argv and "-i" in argv
    assert argv[argv.index("-i") + 1] == "a,b"
    assert "--without-demo=all" not in argv
    argv = testrun.test_argv("py", "bin", "c", "db", ["a"], "/a:TestX.test_y,-slow", 1, False,
                             coverage=("/d/.cov", ["/w/a"]))  # fmt: skip
    assert argv[:6] == ["py", "-m", "coverage", "run", "--branch", "--data-file=/d/.cov"]
    assert "--source=/w/a" in argv and "--test-tags=/a:TestX.test_y,-slow" in argv


@pytest.mark.parametrize("modules", [["a;b"], ["-i"], ["a b"], ["../x"], [1], ["x" * 101]])
def test_hostile_module_names(modules):
    with pytest.raises(testrun.TestRunInputError):
        testrun.test_argv("py", "bin", "c", "db", [*modules, "ok"], "", 1, True)


@pytest.mark.parametrize(
    "tags", ["/sale,$(id)", "-", ",", "/sale;x", "a b", "--log-level=debug", "/s/x", 5]
)
def test_hostile_test_tags(tags):
    with pytest.raises(testrun.TestRunInputError):
        testrun.check_test_tags(tags)


def test_good_test_tags():
    assert testrun.check_test_tags(" /sale , -slow,post_install ") == "/sale,-slow,post_install"
    assert testrun.check_test_tags("/a:TestA.test_b") == "/a:TestA.test_b"
    assert testrun.check_test_tags(None) == ""


@pytest.mark.parametrize("name", ["", "-d", "a b", "x;y", "é", "a" * 64, None])
def test_hostile_database_names(name):
    with pytest.raises(testrun.TestRunInputError):
        testrun.cleanup_argv("py", "bin", "c", name)


def test_cleanup_removes_the_configuration_even_when_the_drop_fails(tmp_path):
    conf = tmp_path / "test.conf"
    conf.write_text("[options]\ndb_password = secret\n")
    fake_odoo = tmp_path / "odoo-bin"
    fake_odoo.write_text(
        "import sys\nprint(f'Database {sys.argv[-1]} does not exist')\nsys.exit(1)\n"
    )
    result = subprocess.run(
        testrun.cleanup_argv(sys.executable, str(fake_odoo), str(conf), "devops_x"),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert testrun.absent_database(result.stdout)
    assert not conf.exists()


def test_junit_report():
    xml = textwrap.dedent(
        """\
        <?xml version="1.0" encoding="utf-8"?>
        <testsuites><testsuite name="pytest" tests="4">
          <testcase classname="tests.test_a.TestA" name="test_ok" time="0.012"/>
          <testcase classname="tests.test_a.TestA" name="test_bad" time="0.5">
            <failure message="assert 1 == 2">Traceback: assert 1 == 2</failure>
          </testcase>
          <testcase classname="tests.test_b" name="test_boom" time="x">
            <error message="RuntimeError">boom</error>
          </testcase>
          <testcase classname="tests.test_b" name="test_later" time="0">
            <skipped message="later"/>
          </testcase>
        </testsuite></testsuites>
        """
    )
    results = {r.method: r for r in testrun.parse_junit(xml, "repo")}
    assert {m: r.state for m, r in results.items()} == {
        "test_ok": "passed", "test_bad": "failed", "test_boom": "error", "test_later": "skipped"
    }  # fmt: skip
    assert results["test_ok"].test_class == "TestA" and results["test_ok"].module == "repo"
    assert results["test_bad"].duration == 0.5 and results["test_boom"].duration == 0.0
    assert "assert 1 == 2" in results["test_bad"].traceback


def test_junit_from_a_real_pytest_run(tmp_path):
    (tmp_path / "test_real.py").write_text(
        "import pytest\n\ndef test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2\n\n"
        "@pytest.mark.skip(reason='no')\ndef test_skip():\n    pass\n"
    )
    report = tmp_path / "junit.xml"
    subprocess.run(
        testrun.pytest_argv(sys.executable, str(report), ["-p", "no:cacheprovider"]),
        cwd=tmp_path, capture_output=True, check=False,
        env={**os.environ, "PYTEST_ADDOPTS": ""},
    )  # fmt: skip
    states = {r.method: r.state for r in testrun.parse_junit(report.read_text())}
    assert states == {"test_ok": "passed", "test_bad": "failed", "test_skip": "skipped"}


def test_junit_refuses_entities():
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite>&a;</testsuite>'
    with pytest.raises(testrun.TestRunInputError):
        testrun.parse_junit(bomb)


def test_coverage_per_module():
    report = {
        "files": {
            "/w/addons/a/models.py": {"summary": {"covered_lines": 8, "num_statements": 10,
                                                  "covered_branches": 1, "num_branches": 2}},
            "addons/a/__init__.py": {"summary": {"covered_lines": 2, "num_statements": 2}},
            "/w/addons/ab/x.py": {"summary": {"covered_lines": 0, "num_statements": 4}},
            "/w/other.py": {"summary": {"covered_lines": 0, "num_statements": 100}},
        }
    }  # fmt: skip
    paths = {"a": "/w/addons/a", "ab": "/w/addons/ab"}
    found = testrun.parse_coverage(json.dumps(report), paths, "/w")  # relative to /w
    assert found == {"a": round(100 * 11 / 14, 1), "ab": 0.0}
    assert testrun.parse_coverage("not json", {"a": "/a"}) == {}


def _sign(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_signatures():
    body = b'{"ref": "refs/heads/main"}'
    secret = "s3cret"  # noqa: S105 - a test value
    digest = _sign(secret, body)
    assert (
        testrun.verify_webhook({"X-Hub-Signature-256": f"sha256={digest}"}, body, secret)
        == "github"
    )
    assert testrun.verify_webhook({"x-gitea-signature": digest}, body, secret) == "gitea"
    assert testrun.verify_webhook({"X-Forgejo-Signature": digest}, body, secret) == "gitea"
    assert testrun.verify_webhook({"X-Gitlab-Token": secret}, body, secret) == "gitlab"
    for headers in (
        {},
        {"X-Hub-Signature-256": digest},  # no "sha256=" prefix
        {"X-Hub-Signature-256": f"sha256={_sign('other', body)}"},
        {"X-Hub-Signature-256": f"sha256={_sign(secret, body + b' ')}"},
        {"X-Gitea-Signature": f"sha256={digest}"},
        {"X-Gitlab-Token": secret + " "},
    ):
        assert testrun.verify_webhook(headers, body, secret) is None, headers
    assert testrun.verify_webhook({"X-Gitlab-Token": ""}, body, "") is None


def test_push_branch():
    assert testrun.push_branch(b'{"ref": "refs/heads/feature/x"}') == "feature/x"
    assert testrun.push_branch(b'{"zen": "ping"}') == ""
    assert testrun.push_branch(b'{"ref": "refs/tags/v1"}') is None
    assert testrun.push_branch(b"[1, 2]") is None
    assert testrun.push_branch(b"not json") is None
    assert testrun.push_branch(b'{"ref": 5}') is None


DIFF = """\
diff --git a/mod/models.py b/mod/models.py
index 1..2 100644
--- a/mod/models.py
+++ b/mod/models.py
@@ -3,0 +4,3 @@ class X:
+    a = 1
+    b = 2
+    c = 3
@@ -10 +13 @@ def f():
-    return 1
+    return 2
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-gone
"""


def test_changed_lines_and_their_coverage():
    changed = testrun.parse_changed_lines(DIFF, "/w/addons")
    assert changed == {"/w/addons/mod/models.py": {4, 5, 6, 13}}
    report = {"files": {"/w/addons/mod/models.py": {"executed_lines": [1, 4, 5],
                                                    "missing_lines": [13, 20]}}}  # fmt: skip
    assert testrun.changed_coverage(json.dumps(report), changed) == (2, 3)
    assert testrun.changed_coverage("{}", changed) == (0, 0)
    with pytest.raises(testrun.TestRunInputError):
        testrun.changed_lines_argv("HEAD~1; rm -rf /")
    assert testrun.changed_lines_argv("a" * 40)[-3:] == ["a" * 40, "HEAD", "--"]


def test_changed_lines_of_a_real_git_diff(tmp_path):
    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,
                              text=True, env={**os.environ, "GIT_AUTHOR_NAME": "t",
                              "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
                              "GIT_COMMITTER_EMAIL": "t@e"}).stdout  # fmt: skip

    git("init", "-q")
    (tmp_path / "a.py").write_text("x = 1\ny = 2\nz = 3\n")
    git("add", "-A")
    git("commit", "-qm", "one")
    base = git("rev-parse", "HEAD").strip()
    (tmp_path / "a.py").write_text("x = 1\ny = 20\nz = 3\nw = 4\n")
    git("commit", "-qam", "two")
    out = git(*testrun.changed_lines_argv(base)[1:])
    assert testrun.parse_changed_lines(out, str(tmp_path)) == {f"{tmp_path}/a.py": {2, 4}}


def test_coverage_of_a_real_run(tmp_path):
    # coverage writes the files under its working directory relative to it.
    module = tmp_path / "addons" / "m"
    module.mkdir(parents=True)
    (module / "mcode.py").write_text("def f(x):\n    if x:\n        return 1\n    return 2\n")
    (tmp_path / "main.py").write_text("import sys\nsys.path.insert(0, 'addons/m')\nimport mcode\n"
                                      "mcode.f(1)\n")  # fmt: skip
    data = tmp_path / ".cov"
    argv = testrun.test_argv(sys.executable, "main.py", "c", "db", ["m"], "", 1, True,
                             coverage=(str(data), [str(module)]))  # fmt: skip
    subprocess.run(argv[: argv.index("main.py") + 1], cwd=tmp_path, check=True)
    report = tmp_path / "cov.json"
    subprocess.run(testrun.coverage_json_argv(sys.executable, str(data), str(report)),
                   cwd=tmp_path, check=True, capture_output=True)  # fmt: skip
    found = testrun.parse_coverage(report.read_text(), {"m": str(module)}, str(tmp_path))
    assert 0 < found["m"] < 100  # one branch of two, one return of two


def test_hostile_values_are_quoted_in_messages():
    with pytest.raises(testrun.TestRunInputError) as found:
        testrun.check_modules(["sale\nstock", "a\x00b"])
    assert "\n" not in str(found.value) and "\x00" not in str(found.value)
    with pytest.raises(testrun.TestRunInputError) as found:
        testrun.check_test_tags("/sale\nforged line")
    assert "\n" not in str(found.value)
    assert testrun.push_branch(b"[" * 100_000) is None  # too deep: not a push, no crash


def test_screenshots_read_in_one_command(tmp_path):
    folder = tmp_path / "shots" / "db"
    folder.mkdir(parents=True)
    (folder / "a b.png").write_bytes(b"\x89PNG one")
    (folder / "note.txt").write_text("not a screenshot")
    out = subprocess.run(testrun.screenshots_argv(str(tmp_path / "shots")), capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert testrun.parse_screenshots(out) == [("a b.png", "iVBORyBvbmU=")]
    assert not (tmp_path / "shots").exists()
    missing = subprocess.run(testrun.screenshots_argv(str(tmp_path / "none")),
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert testrun.parse_screenshots(missing.stdout) == []
