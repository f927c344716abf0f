import os
import subprocess

import pytest

from engine import git
from engine.executor import RunSpec
from engine.local import LocalExecutor
from engine.output import Capture

AUTHOR = "Test Author <test@example.com>"
ENV = {**git.GIT_ENV, "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "test@example.com",
       "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "test@example.com"}  # fmt: skip


def run(argv, cwd, ok=True):
    capture = Capture()
    result = LocalExecutor().run(RunSpec(argv, cwd=str(cwd), env=ENV, timeout=60), capture)
    if ok:
        assert result.ok, capture.text()
    return result, capture.text("stdout", raw=True)


def status(clone):
    return git.parse_status(run(git.status_argv(), clone)[1])


def test_status_of_every_kind(repos):
    _remote, clone = repos
    assert status(clone) == {
        "branch": "main", "upstream": "origin/main", "ahead": 0, "behind": 0,
        "staged": [], "changed": [], "untracked": [], "conflicts": [],
    }  # fmt: skip
    (clone / "app.py").write_text("print('changed')\n")
    (clone / "new file; $(x).py").write_text("x = 1\n")
    (clone / "staged.py").write_text("y = 2\n")
    run(["git", "add", "staged.py"], clone)
    found = status(clone)
    assert found["changed"] == ["app.py"]
    assert found["staged"] == ["staged.py"]
    assert found["untracked"] == ["new file; $(x).py"]


def test_commit_selected_files_push_and_pull(repos, tmp_path):
    remote, clone = repos
    (clone / "a.py").write_text("a = 1\n")
    (clone / "b.py").write_text("b = 2\n")
    message = "Hostile $(touch PWNED) `id`; message\n\nsecond line"
    run(git.commit_argv(message, AUTHOR, ["a.py"]), clone)
    found = status(clone)
    assert found["untracked"] == ["b.py"] and found["ahead"] == 1
    (commit,) = git.parse_log(run(git.log_argv(1), clone)[1])
    assert commit["subject"] == "Hostile $(touch PWNED) `id`; message"
    assert commit["author"] == "Test Author"
    assert not (clone / "PWNED").exists()
    run(git.push_argv(), clone)
    assert status(clone)["ahead"] == 0
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True, capture_output=True)
    (other / "c.py").write_text("c = 3\n")
    run(git.commit_argv("from elsewhere", AUTHOR, ["c.py"]), other)
    run(git.push_argv(), other)
    run(["git", "fetch", "-q"], clone)
    assert status(clone)["behind"] == 1
    run(git.pull_argv(), clone)
    assert (clone / "c.py").exists()


def test_pull_refuses_a_non_fast_forward(repos, tmp_path):
    remote, clone = repos
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True, capture_output=True)
    (other / "app.py").write_text("print('theirs')\n")
    run(git.commit_argv("theirs", AUTHOR, ["app.py"]), other)
    run(git.push_argv(), other)
    (clone / "app.py").write_text("print('mine')\n")
    run(git.commit_argv("mine", AUTHOR, ["app.py"]), clone)
    result, _ = run(git.pull_argv(), clone, ok=False)
    assert result.exit_code != 0
    assert (clone / "app.py").read_text() == "print('mine')\n"


def test_branches(repos):
    _remote, clone = repos
    run(git.create_branch_argv("feature/x"), clone)
    assert status(clone)["branch"] == "feature/x"
    run(git.switch_argv("main"), clone)
    assert status(clone)["branch"] == "main"
    for bad in ("-f", "--orphan=x", "a b", "a..b", "", "a~1", "x.lock", "a\nb"):
        with pytest.raises(git.GitInputError):
            git.create_branch_argv(bad)
    hostile = "x;rm$(touch${IFS}PWNED)`id`|&"  # a valid git branch name: passed as data
    run(git.create_branch_argv(hostile), clone)
    assert status(clone)["branch"] == hostile
    assert not (clone / "PWNED").exists()
    assert (clone / "app.py").exists()


def test_diff(repos):
    _remote, clone = repos
    (clone / "app.py").write_text("print('changed')\n")
    _, diff = run(git.diff_argv("app.py"), clone)
    assert "-print('hello')" in diff and "+print('changed')" in diff
    _, everything = run(git.diff_argv(), clone)
    assert everything == diff


def test_todo_scan_with_blame(repos):
    _remote, clone = repos
    (clone / "b.py").write_text("x = 1\n# FIXME broken\n# nothing\n# XXX: later\n")
    run(git.commit_argv("b", AUTHOR, ["b.py"]), clone)
    found = git.parse_todo_grep(run(git.todo_grep_argv(), clone)[1])
    assert found == [
        ("app.py", 1, "TODO", "say more"),
        ("b.py", 2, "FIXME", "broken"),
        ("b.py", 4, "XXX", "later"),
    ]
    blame = git.parse_blame(run(git.blame_argv("b.py", [2, 4]), clone)[1])
    assert set(blame) == {2, 4}
    assert blame[2]["author"] == "Test Author" and blame[2]["email"] == "test@example.com"
    assert blame[4]["summary"] == "b" and blame[4]["time"] > 0


def test_author_checked():
    for bad in ("", "no email", "a <b>\nc", "<x@y>"):
        with pytest.raises(git.GitInputError):
            git.check_author(bad)
    assert os.path.basename(git.check_author(AUTHOR)) == AUTHOR


def test_source_excerpt(tmp_path):
    path = tmp_path / "x; $(touch PWNED).py"
    path.write_text("".join(f"line {i}\n" for i in range(1, 21)))
    _, out = run(git.source_argv(str(path), 10, around=2), tmp_path)
    assert git.parse_source(out) == [(n, f"line {n}") for n in range(8, 13)]
    _, out = run(git.source_argv(str(path), 1, around=2), tmp_path)
    assert [n for n, _ in git.parse_source(out)] == [1, 2, 3]
    assert not (tmp_path / "PWNED").exists()


def test_todo_parse_paths_with_newlines():
    text = "a.py\x003\x00# TODO: one\nodd\nname.py\x001\x00# FIXME two\n"
    assert git.parse_todo_grep(text) == [
        ("a.py", 3, "TODO", "one"),
        ("odd\nname.py", 1, "FIXME", "two"),
    ]


def test_literal_pathspecs_everywhere():
    assert git.GIT_ENV["GIT_LITERAL_PATHSPECS"] == "1"
    argv = git.commit_argv("m", "A <a@b.c>", [":(top)x.py"])
    assert "--literal-pathspecs" in argv[2]
    assert argv[-1] == ":(top)x.py"
