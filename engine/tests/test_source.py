# pylint: disable=redefined-outer-name
# (pytest fixtures are passed by the name of the function that makes them)
import os
import subprocess
import sys

import pytest

from engine import source, ssh
from engine.errors import parse
from engine.local import LocalExecutor

IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


@pytest.fixture(params=["local", "ssh"])
def executor(request):
    if request.param == "local":
        return LocalExecutor()
    return ssh.SSHExecutor(request.getfixturevalue("target"))


@pytest.fixture
def traceback_frames(tmp_path):
    """A real traceback: workspace code calling a library outside it, plus an uncommitted
    file of the workspace; returns (workspace, frames)."""
    work, lib = tmp_path / "work", tmp_path / "site-packages" / "extlib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("def divide(a, b):\n    return a / b\n")
    work.mkdir()
    (work / "main.py").write_text("import app\n\napp.compute()\n")
    (work / "app.py").write_text(
        "import extlib\n\n\ndef compute():\n    return extlib.divide(1, 0)\n"
    )

    def git(*args):
        env = {**os.environ, **IDENTITY}
        subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "main.py", "app.py")
    git("commit", "-q", "-m", "the bug")
    (work / "main.py").write_text("import app\n\napp.compute()  # changed\n")
    env = {**os.environ, "PYTHONPATH": str(lib.parent)}
    result = subprocess.run(
        [sys.executable, "main.py"], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    (error,) = parse(result.stderr)
    return str(work), [("<frozen x>", 1, "f"), (str(work / "gone.py"), 3, ""), *error.frames]


def test_frames_sources_blames(executor, traceback_frames):
    work, frames = traceback_frames
    found = source.read_frames(executor, frames, root=work, cwd=work, anywhere=False)
    frozen, gone, main, app, lib = found
    assert (main["line"], main["function"], main["in_workspace"]) == (3, "<module>", True)
    assert main["blame_problem"] == "uncommitted"
    assert app["blame"]["author"] == "Ada" and app["blame"]["summary"] == "the bug"
    assert (5, "    return extlib.divide(1, 0)") in app["excerpt"]
    assert not app["source_problem"] and not app["blame_problem"]
    assert lib["library"] and not lib["in_workspace"]
    assert (lib["source_problem"], lib["excerpt"]) == ("outside", [])
    assert lib["blame_problem"] == "outside_workspace"
    assert (frozen["source_problem"], frozen["blame_problem"]) == (
        "not_a_file",
        "outside_workspace",
    )
    assert (gone["source_problem"], gone["blame_problem"]) == ("missing", "unreadable")
    assert source.user_frame(found) == 3
    # Who may read anywhere reads the library too; no workspace: no blame.
    found = source.read_frames(executor, frames, anywhere=True)
    assert (2, "    return a / b") in found[4]["excerpt"]
    assert {f["blame_problem"] for f in found} == {"no_workspace"}
    assert source.user_frame(found) == 3  # the deepest frame that is no library
    found = source.read_frames(executor, frames[2:])
    assert {f["source_problem"] for f in found} == {"no_workspace"}


def test_not_a_repository_and_untracked(executor, tmp_path):
    (tmp_path / "a.py").write_text("a = 1\n")
    (found,) = source.read_frames(executor, [(str(tmp_path / "a.py"), 1, "")], root=str(tmp_path))
    assert found["excerpt"] == [(1, "a = 1")]
    assert found["blame_problem"] == "not_repository"
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (found,) = source.read_frames(executor, [("a.py", 1, "")], root=str(tmp_path))
    assert found["file"] == str(tmp_path / "a.py")
    assert found["blame_problem"] == "untracked"
    (found,) = source.read_frames(executor, [("a.py", 9, "")], root=str(tmp_path))
    assert found["source_problem"] == "no_line"
    (found,) = source.read_frames(executor, [("a.py", 1, "")])
    assert found["source_problem"] == "relative"
