# pylint: disable=redefined-outer-name
"""engine/plan.py on real git repositories made here, and the stage rule on fixed facts."""

import datetime
import os
import subprocess

import pytest

from engine import plan, scaffold
from engine.git import GitInputError

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}
UTC = datetime.UTC


def run(argv, cwd, env=None):
    return subprocess.run(
        argv, cwd=cwd, env={**ENV, **(env or {})}, capture_output=True, text=True, check=False
    )


def git(cwd, *args):
    result = run(["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args], cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def ws(tmp_path):
    """A workspace with two clones of bare remotes: "addons" (a module) and "tools"."""
    root = tmp_path / "ws"
    root.mkdir()
    for name in ("addons", "tools"):
        work = tmp_path / f"{name}-work"
        work.mkdir()
        git(work, "init", "--quiet", "--initial-branch", "main")
        (work / "old_mod").mkdir()
        (work / "old_mod" / "__manifest__.py").write_text("{'name': 'Old'}\n")
        (work / "README").write_text("hello\n")
        git(work, "add", "--all")
        git(work, "commit", "--quiet", "-m", "first")
        git(tmp_path, "clone", "--quiet", "--bare", str(work), str(tmp_path / f"{name}.git"))
        git(root, "clone", "--quiet", str(tmp_path / f"{name}.git"), name)
    return root


def test_start_facts_and_scaffold_on_real_repositories(ws):
    items = [("addons", "main"), ("tools", "")]
    result = run(plan.start_argv("feature/books", items), ws)
    assert result.returncode == 0, result.stderr
    started = plan.parse_start(result.stdout)
    main = git(ws / "addons", "rev-parse", "origin/main")
    assert started == {
        "addons": (main, "created"),
        "tools": (git(ws / "tools", "rev-parse", "HEAD"), "created"),
    }
    assert git(ws / "addons", "rev-parse", "--abbrev-ref", "HEAD") == "feature/books"

    # No commit yet: the facts say so.
    bases = [("addons", started["addons"][0]), ("tools", started["tools"][0])]
    facts = plan.parse_facts(run(plan.facts_argv("feature/books", bases), ws).stdout)
    assert facts["addons"]["count"] == 0 and facts["addons"]["modules"] == []
    assert facts["addons"]["first"] is None

    # A scaffolded module, committed on the branch.
    files = scaffold.module_files("plan_books", "Books")
    argv = plan.scaffold_argv("addons", "feature/books", "plan_books", files, "[ADD] plan_books",
                              "Ann <ann@example.com>")  # fmt: skip
    result = run(argv, ws)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 1)[1].strip() == "[ADD] plan_books"
    assert git(ws / "addons", "status", "--porcelain") == ""
    assert git(ws / "addons", "log", "-1", "--format=%an <%ae>") == "Ann <ann@example.com>"
    shown = git(ws / "addons", "show", "--name-only", "--format=", "HEAD").split("\n")
    assert sorted(shown) == sorted(f"plan_books/{path}" for path in files)
    # Also a change of an existing module.
    (ws / "addons" / "old_mod" / "models.py").write_text("x = 1\n")
    git(ws / "addons", "add", "--all")
    git(ws / "addons", "commit", "--quiet", "-m", "old_mod: x")

    facts = plan.parse_facts(run(plan.facts_argv("feature/books", bases), ws).stdout)
    addons = facts["addons"]
    assert addons["head"] == git(ws / "addons", "rev-parse", "HEAD")
    assert (addons["base"], addons["count"]) == (main, 2)
    assert addons["modules"] == ["old_mod", "plan_books"]
    assert isinstance(addons["first"], datetime.datetime) and addons["first"].tzinfo
    assert facts["tools"]["count"] == 0
    # The remote's default branch as base when none was kept.
    facts = plan.parse_facts(run(plan.facts_argv("feature/books", [("addons", "")]), ws).stdout)
    assert facts["addons"]["count"] == 2
    # An unknown branch: no facts, no failure.
    assert run(plan.facts_argv("nope", bases), ws).stdout == ""

    # Scaffolding again, into an existing folder or off the branch, is refused.
    result = run(argv, ws)
    assert result.returncode == 3 and "exists already" in result.stderr
    git(ws / "tools", "switch", "--quiet", "main")
    other = plan.scaffold_argv("tools", "feature/books", "x_mod", files, "m", "A <a@b.c>")
    result = run(other, ws)
    assert result.returncode == 3 and "Start the change first" in result.stderr

    # Starting again switches back to the existing branch.
    result = run(plan.start_argv("feature/books", items), ws)
    assert plan.parse_start(result.stdout)["tools"][1] == "existing"
    assert git(ws / "tools", "rev-parse", "--abbrev-ref", "HEAD") == "feature/books"

    # Which commits hold the head: the head itself and later ones, not earlier ones.
    head = addons["head"]
    git(ws / "addons", "switch", "--quiet", "main")
    git(ws / "addons", "merge", "--quiet", "--no-ff", "-m", "merge", "feature/books")
    merged = git(ws / "addons", "rev-parse", "HEAD")
    triples = [("addons", head, head), ("addons", head, merged), ("addons", head, main)]
    found = plan.parse_contains(run(plan.contains_argv(triples), ws).stdout)
    assert found == {triples[0]: True, triples[1]: True, triples[2]: False}


def test_start_from_a_missing_base_says_so(ws):
    result = run(plan.start_argv("feature/x", [("addons", "release-9")]), ws)
    assert result.returncode == 3
    assert "no branch release-9 to start from" in result.stderr


def test_hostile_values_are_refused():
    for argv in (
        lambda: plan.start_argv("-x", [("a", "")]),
        lambda: plan.start_argv("ok", [("../etc", "")]),
        lambda: plan.start_argv("ok", [("/etc", "")]),
        lambda: plan.start_argv("ok", [("a", "--upload-pack=x")]),
        lambda: plan.facts_argv("a b", [("a", "")]),
        lambda: plan.contains_argv([("a", "HEAD", "0" * 40)]),
        lambda: plan.scaffold_argv("a", "b", "../x", {}, "m", "A <a@b.c>"),
        lambda: plan.scaffold_argv("a", "b", ".", {}, "m", "A <a@b.c>"),
        lambda: plan.scaffold_argv("a", "b", "x", {"../y": ""}, "m", "A <a@b.c>"),
        lambda: plan.scaffold_argv("a", "b", "x", {}, " ", "A <a@b.c>"),
        lambda: plan.scaffold_argv("a", "b", "x", {}, "m", "nobody"),
    ):
        with pytest.raises(GitInputError):
            argv()


def test_modules_of_paths():
    manifests = ["a/__manifest__.py", "addons/b/__manifest__.py", "__manifest__.py"]
    paths = ["a/models/x.py", "addons/b/views/v.xml", "addons/c/x.py", "README", "a"]
    assert plan.modules_of(paths, manifests) == ["a", "b"]


NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DAY = datetime.timedelta(hours=24)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, ("plan", False)),
        ({"started": True}, ("plan", False)),
        ({"commits": True}, ("code", False)),
        ({"commits": True, "build": "failed"}, ("code", True)),
        ({"commits": True, "build": "done"}, ("build", False)),
        ({"commits": True, "build": "done", "test": ("passed", "T1")}, ("test", False)),
        ({"commits": True, "build": "done", "test": ("failed", "T2")}, ("build", True)),
        ({"commits": True, "test": ("failed", "T2"), "passed_before": "T1"}, ("build", True)),
        ({"commits": True, "passed_before": "T1"}, ("code", False)),
        ({"commits": True, "release": "1.0"}, ("release", False)),
        ({"release": "1.0", "deploy_failed": "D1"}, ("release", True)),
        ({"release": "1.0", "staging": "D2"}, ("deploy", False)),
        ({"staging": "D2", "production": (NOW - DAY / 2, "prod")}, ("operate", False)),
        ({"production": (NOW - 2 * DAY, "prod")}, ("monitor", False)),
        (
            {"production": (NOW - 2 * DAY, "prod"), "incident": (NOW - DAY, None, "I1")},
            ("operate", True),
        ),
        (
            {"production": (NOW - 3 * DAY, "prod"), "incident": (NOW - DAY, NOW - DAY / 2, "I1")},
            ("operate", False),
        ),
        (
            {
                "production": (NOW - 3 * DAY, "prod"),
                "incident": (NOW - 2.5 * DAY, NOW - 2 * DAY, "I1"),
            },
            ("monitor", False),
        ),
    ],
)
def test_stage_from_facts(facts, expected):
    code, key, params, blocked = plan.stage(facts, NOW, DAY)
    assert (code, blocked) == expected
    assert code in plan.STAGES and plan.reason(key, params)


def test_stage_reasons_name_what_happened():
    _code, key, params, _blocked = plan.stage(
        {"commits": True, "build": "done", "test": ("failed", "T2"), "passed_before": "T1"},
        NOW,
        DAY,
    )
    assert (
        plan.reason(key, params) == "Regression: tests failed at its head (T2) after passing (T1)."
    )
    _code, key, params, _blocked = plan.stage(
        {"production": (NOW - 3 * DAY, "prod"), "incident": (NOW - DAY, NOW - DAY / 2, "I1")},
        NOW,
        DAY,
    )
    assert plan.reason(key, params) == (
        "Incident I1 ended 2026-11-30 00:00; running on prod; Monitor after 24 h without incident."
    )


def test_every_reason_is_reachable_and_filled():
    """Every template is used by some facts, and its parameters are all given."""
    cases = [
        {}, {"workspaces": True}, {"started": True}, {"commits": True},
        {"commits": True, "build": "failed"}, {"release": "1.0", "release_approved": True},
        {"commits": True, "passed_before": "T1"}, {"commits": True, "build": "done"},
        {"commits": True, "test": ("failed", "T2")},
        {"commits": True, "test": ("failed", "T2"), "passed_before": "T1"},
        {"commits": True, "test": ("passed", "T1")}, {"release": "1.0"},
        {"release": "1.0", "deploy_failed": "D"}, {"staging": "D"},
        {"production": (NOW, "p")}, {"production": (NOW - 2 * DAY, "p")},
        {"production": (NOW - 2 * DAY, "p"), "incident": (NOW - DAY, None, "I")},
        {"production": (NOW - 2 * DAY, "p"), "incident": (NOW - DAY, NOW, "I")},
    ]  # fmt: skip
    keys = set()
    for facts in cases:
        _code, key, params, _blocked = plan.stage(facts, NOW, DAY)
        assert "%(" not in plan.reason(key, params)
        keys.add(key)
    assert keys == set(plan.REASONS)


def test_scaffold_never_through_a_link_nor_into_git_and_cleans_up(ws, tmp_path):
    git(ws / "addons", "switch", "--quiet", "--create", "feature/x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "addons" / "link").symlink_to(outside)
    files = scaffold.module_files("plan_x", "X")
    for target in ("link/plan_x", "link"):
        argv = plan.scaffold_argv("addons", "feature/x", target, files, "m", "A <a@b.c>")
        result = run(argv, ws)
        assert result.returncode == 3, result.stderr
    assert list(outside.iterdir()) == []
    for target in (".git/plan_x", "x/.git", "a/*", ":(top)", "a b", "-x"):
        with pytest.raises(GitInputError):
            plan.scaffold_argv("addons", "feature/x", target, files, "m", "A <a@b.c>")
    # A commit refused (a hook): the files written are removed, the repository is clean.
    hook = ws / "addons" / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    result = run(
        plan.scaffold_argv("addons", "feature/x", "mods/plan_x", files, "m", "A <a@b.c>"), ws
    )
    assert result.returncode != 0
    assert not (ws / "addons" / "mods" / "plan_x").exists()
    assert git(ws / "addons", "status", "--porcelain") == "?? link"


@pytest.mark.parametrize(
    "name",
    ["origin/main", "refs/heads/x", "remotes/a", ".hidden", "a/.b", "a//b", "/abs", "@", "main",
     "HEAD", "x.lock", "a/b.lock/c", "-x", "a b"],
)  # fmt: skip
def test_branch_names_refused(name):
    with pytest.raises(GitInputError):
        plan.check_branch(name)


def test_branch_names_accepted():
    for name in ("feature/books", "fix/issue-12", "a;b", "user/x_y.z"):
        assert plan.check_branch(name) == name
