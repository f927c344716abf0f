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


def test_sources_of_many_files_at_once(tmp_path):
    inside = tmp_path / "ws"
    inside.mkdir()
    code = inside / "x; $(touch PWNED).py"
    code.write_text("".join(f"line {i}\n" for i in range(1, 21)))
    (inside / "folder").mkdir()
    outside = tmp_path / "outside.py"
    outside.write_text("secret\n")
    (inside / "link.py").symlink_to(outside)
    items = [
        (str(code), 10),
        (str(inside / "gone.py"), 1),
        (str(inside / "folder"), 1),
        (str(outside), 1),
        (str(inside / "link.py"), 1),
        (str(code), 1),
    ]
    _, out = run(git.sources_argv(items, around=2, inside=str(inside)), tmp_path)
    found = git.parse_sources(out)
    assert [status for status, _rows in found] == [
        "ok", "missing", "notfile", "outside", "outside", "ok",
    ]  # fmt: skip
    assert found[0][1] == [(n, f"line {n}") for n in range(8, 13)]
    assert [n for n, _ in found[5][1]] == [1, 2, 3]
    _, out = run(git.sources_argv(items[3:4], around=2), tmp_path)  # anywhere
    assert git.parse_sources(out) == [("ok", [(1, "secret")])]
    assert not (tmp_path / "PWNED").exists() and not (inside / "PWNED").exists()


def test_blames_of_many_files_and_why_one_is_empty(repos):
    _remote, clone = repos
    (clone / "b.py").write_text("x = 1\ny = 2\n")
    run(git.commit_argv("b", AUTHOR, ["b.py"]), clone)
    (clone / "new.py").write_text("z = 3\n")
    (clone / "b.py").write_text("x = 1\ny = 'changed'\n")
    items = [("b.py", [1, 2]), ("new.py", [1]), ("app.py", [1]), ("b.py", [9])]
    _, out = run(git.blames_argv(items), clone)
    found = git.parse_blames(out)
    assert len(found) == 4
    blame, error = found[0]
    assert error == "" and blame[1]["author"] == "Test Author" and blame[1]["summary"] == "b"
    assert blame[2]["sha"] == git.NOT_COMMITTED
    assert git.blame_problem(found[1][1]) == "untracked"
    assert found[2][0][1]["summary"] == "first"
    assert git.blame_problem(found[3][1]) == "changed"
    not_repo = clone.parent / "plain"
    not_repo.mkdir()
    (not_repo / "a.py").write_text("a = 1\n")
    _, out = run(git.blames_argv([("a.py", [1])]), not_repo)
    ((blame, error),) = git.parse_blames(out)
    assert blame == {} and git.blame_problem(error) == "not_repository"
    # A workspace of several repositories (a plain folder holding clones): each file is
    # blamed in its own repository.
    (not_repo / "sub").symlink_to(clone)
    _, out = run(git.blames_argv([("sub/b.py", [1]), ("sub/app.py", [1])]), not_repo)
    (blame, error), (other, _error) = git.parse_blames(out)
    assert error == "" and blame[1]["summary"] == "b" and other[1]["summary"] == "first"


def test_identity(repos):
    _remote, clone = repos
    run(["git", "config", "user.name", "Grace Hopper"], clone)
    run(["git", "config", "user.email", "grace@example.com"], clone)
    _, out = run(git.identity_argv(), clone)
    assert git.parse_identity(out) == "Grace Hopper <grace@example.com>"
    run(["git", "config", "user.email", ""], clone)
    assert git.parse_identity(run(git.identity_argv(), clone)[1]) is None
    assert git.parse_identity("name=A <b>\nemail=a@b.c\n") is None
    assert git.parse_identity("") is None


def test_commit_without_identity_commits_as_the_author(repos):
    _remote, clone = repos
    run(["git", "config", "user.name", ""], clone)
    (clone / "c.py").write_text("c = 1\n")
    env = {k: v for k, v in ENV.items() if not k.startswith("GIT_COMMITTER")}
    capture = Capture()
    argv = git.commit_argv("c", "Ada Lovelace <ada@example.com>", ["c.py"])
    result = LocalExecutor().run(RunSpec(argv, cwd=str(clone), env=env, timeout=60), capture)
    assert result.ok, capture.text()
    shown = run(["git", "log", "-1", "--format=%an <%ae>|%cn <%ce>"], clone)[1].strip()
    assert shown == "Ada Lovelace <ada@example.com>|Ada Lovelace <ada@example.com>"


def test_workspace_check(repos, tmp_path):
    _remote, clone = repos
    (tmp_path / "file").write_text("x\n")
    (tmp_path / "plain").mkdir()
    for path, word in (
        (clone, "ok"),
        (clone / "sub-not-there", "missing"),
        (tmp_path / "file", "notdir"),
        (tmp_path / "plain", "notrepo"),
        (tmp_path / "$(touch PWNED)", "missing"),
    ):
        assert run(git.workspace_check_argv(str(path)), tmp_path)[1].strip() == word, path
    assert not (tmp_path / "PWNED").exists()


def test_parse_diff():
    text = (
        "diff --git a/app.py b/app.py\n"
        "index 1..2 100644\n"
        "--- a/app.py\n"
        "+++ b/app.py\n"
        "@@ -1,3 +1,3 @@\n"
        " keep\n"
        "--- removed line that looks like a header\n"
        "+++ added line that looks like a header\n"
        " end\n"
        "\\ No newline at end of file\n"
        "diff --git a/gone.py b/gone.py\n"
        "deleted file mode 100644\n"
        "--- a/gone.py\n"
        "+++ /dev/null\n"
        "@@ -1 +0,0 @@\n"
        "-<script>x</script>\n"
    )
    first, second = git.parse_diff(text)
    assert first["path"] == "app.py" and second["path"] == "gone.py"
    assert [kind for kind, _ in first["lines"]] == [
        "meta", "meta", "meta", "meta", "hunk", "context", "del", "add", "context", "note",
    ]  # fmt: skip
    assert second["lines"][-1] == ("del", "-<script>x</script>")
    assert git.parse_diff("") == []
