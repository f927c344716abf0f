import json
import os
import socket
import subprocess
import sys

import pytest

from engine import build
from engine.local import LocalExecutor


def test_facts_read_commits_and_requirement_files(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e.x"}  # fmt: skip
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    (repo / "requirements.txt").write_text("requests\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "x"], check=True, env=env)
    requirements = str(repo / "requirements.txt")
    missing = str(tmp_path / "missing.txt")
    ok, out = LocalExecutor().read_stdout(
        build.facts_argv(sys.executable, [str(repo), str(tmp_path)], [requirements, missing])
    )
    assert ok, out
    facts = build.parse_facts(out)
    assert len(facts["commits"][str(repo)]) == 40
    assert facts["commits"][str(tmp_path)] == ""
    assert len(facts["files"][requirements]) == 64
    assert facts["files"][missing] == ""
    assert facts["python"] == sys.version


def test_fingerprint_changes_with_what_makes_the_build():
    facts = {"python": "3.11", "commits": {"/w": "a" * 40}, "files": {"/w/r.txt": "b" * 64}}
    base = build.fingerprint(facts, ["x"], ["pipeline"])
    assert base == build.fingerprint(json.loads(json.dumps(facts)), ["x"], ["pipeline"])
    assert len(base) == 64
    others = [
        build.fingerprint({**facts, "python": "3.12"}, ["x"], ["pipeline"]),
        build.fingerprint({**facts, "commits": {"/w": "c" * 40}}, ["x"], ["pipeline"]),
        build.fingerprint({**facts, "files": {"/w/r.txt": "d" * 64}}, ["x"], ["pipeline"]),
        build.fingerprint(facts, ["x", "y"], ["pipeline"]),
        build.fingerprint(facts, ["x"], ["another pipeline"]),
        build.fingerprint(facts, ["x"], ["pipeline"], adopt_path="/venv"),
    ]
    assert base not in others
    assert len(set(others)) == len(others)


@pytest.mark.parametrize(
    "requirement", ["requests", "python-dateutil>=2.8", "foo[bar]==1.0", "x<2,>=1"]
)
def test_good_requirements(requirement):
    assert build.requirement_problem(requirement) is None


@pytest.mark.parametrize(
    "requirement",
    ["-e .", "--index-url=http://evil", "../x", "git+https://x/y", "a b", "x; rm -rf /", ""],
)
def test_bad_requirements_never_reach_pip(requirement):
    assert build.requirement_problem(requirement)
    with pytest.raises(build.BuildInputError):
        build.pip_install_argv("/v", [], [requirement])


def test_pip_argv_keeps_values_as_arguments():
    argv = build.pip_install_argv("/w/.devops/venv-x", ["/w/r.txt"], ["a>=1"], ["--no-index"])
    assert argv[:2] == ["/w/.devops/venv-x/bin/python", "-m"]
    assert argv[-4:] == ["--no-index", "-r", "/w/r.txt", "a>=1"]


@pytest.mark.parametrize("python", ["-c", "python3; id", "py thon", "", "$(id)"])
def test_bad_interpreters(python):
    with pytest.raises(build.BuildInputError):
        build.check_python(python)


def test_remove_only_build_virtualenvs():
    assert build.remove_venv_argv("/w/.devops/venv-0123456789abcdef")[-1].endswith("abcdef")
    for path in (
        "/",
        "/home/odoo/venv",
        "/w/.devops/venv-x",
        "/w/.devops/venv-0123456789abcdef/..",
    ):
        with pytest.raises(build.BuildInputError):
            build.remove_venv_argv(path)


def test_venv_made_and_checked(tmp_path):
    path = str(tmp_path / ".devops" / "venv-0123456789abcdef")
    executor = LocalExecutor()
    ok, out = executor.read_stdout(build.venv_argv(sys.executable, path), timeout=120)
    assert ok, out
    assert "Python" in out
    ok, out = executor.read_stdout(build.check_venv_argv(path), timeout=60)
    assert ok, out
    ok, out = executor.read_stdout(build.check_venv_argv(str(tmp_path / "none")))
    assert not ok
    assert "not a virtualenv" in out


def test_free_port_skips_ports_in_use_and_taken():
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        ok, out = LocalExecutor().read_stdout(
            build.free_port_argv(port, [port + 1], python=sys.executable)
        )
    assert ok, out
    assert int(out) >= port + 2


def test_odoo_config_is_one_value_per_line():
    text = build.odoo_config({"db_name": "x", "list_db": False, "db_password": None})
    assert text == "[options]\ndb_name = x\nlist_db = False\n"
    with pytest.raises(build.BuildInputError):
        build.odoo_config({"admin_passwd": "a\nlist_db = True"})


def test_init_database_argv():
    argv = build.init_database_argv(
        "/v/bin/python", "/o/odoo-bin", "/c.conf", "db", ["sale"], False, "fr_FR"
    )
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[4:11] == [
        "/v/bin/python",
        "/o/odoo-bin",
        "/c.conf",
        "db",
        "base,sale",
        "0",
        "fr_FR",
    ]
    with pytest.raises(build.BuildInputError):
        build.init_database_argv("p", "o", "c", "db", ["sale,stock"], True)
    with pytest.raises(build.BuildInputError):
        build.init_database_argv("p", "o", "c", "db", [], True, "fr_FR; id")


def test_image_commands():
    tag = build.image_tag(7, "ab" * 32)
    assert tag == "erplibre-devops/workspace-7:" + "ab" * 8
    argv = build.image_build_argv("/w", tag, "ab" * 32)
    assert argv[:4] == ["docker", "build", "--tag", tag]
    assert argv[-3:] == ["--file", "/w/Dockerfile", "/w"]
    assert build.image_remove_argv(tag) == ["docker", "image", "rm", tag]
    for bad in ("odoo:18.0", "--all", tag + " x"):
        with pytest.raises(build.BuildInputError):
            build.image_remove_argv(bad)
    with pytest.raises(build.BuildInputError):
        build.image_build_argv("relative", tag, "ab" * 32)
