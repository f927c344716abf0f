# pylint: disable=redefined-outer-name
# (pytest fixtures are passed by the name of the function that makes them)
"""engine/deploy.py on real git repositories made here (a bare remote and clones)."""

import os
import subprocess

import pytest

from engine import deploy, release

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def run(argv, cwd):
    return subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)


def git(cwd, *args):
    result = run(["git", *args], cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def workspace(tmp_path):
    """A workspace folder holding a clone "shop" of a bare remote with one module."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "--quiet", "--initial-branch", "main")
    (work / "demo").mkdir()
    (work / "demo" / "__manifest__.py").write_text("{'version': '18.0.1.0.0'}\n")
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", "first")
    bare = tmp_path / "shop.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(work), str(bare))
    ws = tmp_path / "ws"
    ws.mkdir()
    git(ws, "clone", "--quiet", str(bare), "shop")
    return {"ws": ws, "work": work, "bare": bare, "first": git(work, "rev-parse", "HEAD")}


def commit(work, path, text, message):
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", message)
    return git(work, "rev-parse", "HEAD")


def test_release_checkout_fetches_moves_and_refuses_dirty(workspace):
    ws, work = workspace["ws"], workspace["work"]
    second = commit(work, "demo/models.py", "x = 1\n", "feat: x")
    git(work, "push", "--quiet", str(workspace["bare"]), "main")
    result = run(deploy.release_checkout_argv([("shop", "", second)]), ws)
    assert result.returncode == 0, result.stderr
    assert git(ws / "shop", "rev-parse", "HEAD") == second
    assert "shop: now at" in result.stdout
    # Back to the first: present already, no fetch needed.
    assert run(deploy.release_checkout_argv([("shop", "", workspace["first"])]), ws).returncode == 0
    # A tracked file changed: refused, nothing moved.
    (ws / "shop" / "demo" / "__manifest__.py").write_text("{}\n")
    result = run(deploy.release_checkout_argv([("shop", "", second)]), ws)
    assert result.returncode == 1 and "uncommitted changes" in result.stderr
    assert git(ws / "shop", "rev-parse", "HEAD") == workspace["first"]


def test_release_checkout_of_an_unknown_commit_says_so(workspace):
    result = run(deploy.release_checkout_argv([("shop", "", "a" * 40)]), workspace["ws"])
    assert result.returncode == 1
    assert "is not in its remote" in result.stderr


def test_tag_push_tags_every_repository_and_refuses_a_moved_tag(workspace):
    ws, bare = workspace["ws"], workspace["bare"]
    first = workspace["first"]
    result = run(deploy.tag_push_argv("1.0", "1.0\n\n- first", [("shop", "", first)]), ws)
    assert result.returncode == 0, result.stderr
    assert f"{first}\trefs/tags/1.0^{{}}" in git(ws, "ls-remote", "--tags", str(bare))
    assert git(ws / "shop", "cat-file", "-t", "1.0") == "tag"  # annotated
    # Again at the same commit: fine; at another: refused.
    assert run(deploy.tag_push_argv("1.0", "x", [("shop", "", first)]), ws).returncode == 0
    second = commit(ws / "shop", "b.txt", "b\n", "b")
    result = run(deploy.tag_push_argv("1.0", "x", [("shop", "", second)]), ws)
    assert result.returncode == 1 and "already names another commit" in result.stderr


def test_push_heads(workspace):
    ws = workspace["ws"]
    sha = commit(ws / "shop", "demo/__manifest__.py", "{'version': '18.0.1.1.0'}\n", "[REL] 1.1")
    result = run(deploy.push_heads_argv([("shop", "")]), ws)
    assert result.returncode == 0, result.stderr
    assert git(workspace["bare"], "rev-parse", "main") == sha


def test_history_diffs_and_fragments(workspace):
    ws, work = workspace["ws"], workspace["work"]
    commit(work, "demo/models.py", "from odoo import fields\n\n\nclass X:\n    a = fields.Char()\n",
           "feat(demo): a field")  # fmt: skip
    commit(work, "demo/readme/newsfragments/12.feature", "A new field.\n", "docs: fragment")
    git(work, "push", "--quiet", str(workspace["bare"]), "main")
    shop = ws / "shop"
    git(shop, "pull", "--quiet")
    new = git(shop, "rev-parse", "HEAD")
    first = workspace["first"]
    out = run(deploy.history_argv(release.LOG_FORMAT, [("shop", first, new)]), ws).stdout
    log = release.parse_log(deploy.split_by_folder(out)["shop"])
    assert [c["subject"] for c in log] == ["docs: fragment", "feat(demo): a field"]
    out = run(deploy.diffs_argv([("shop", first, new, "demo")]), ws).stdout
    diff = deploy.split_by_folder(out)["shop\tdemo"]
    assert release.suggest_bump(diff)[0] == "minor"
    out = run(deploy.fragments_argv([str(shop / "demo")]), ws).stdout
    fragments = deploy.split_by_folder(out)
    assert list(fragments.values()) == ["A new field.\n\n"]
    # From the start (no previous release): the whole history.
    out = run(deploy.history_argv(release.LOG_FORMAT, [("shop", None, new)]), ws).stdout
    assert len(release.parse_log(deploy.split_by_folder(out)["shop"])) == 3


@pytest.mark.parametrize(
    "folder", ["-x", "/etc", "../up", "a/../../b", "a\nb", "a\0b", "", None, 3, "x" * 300]
)
def test_hostile_folders_are_refused(folder):
    with pytest.raises(deploy.DeployInputError):
        deploy.release_checkout_argv([(folder, "", "a" * 40)])
    with pytest.raises(deploy.DeployInputError):
        deploy.push_heads_argv([(folder, "")])


@pytest.mark.parametrize("sha", ["HEAD", "a" * 39, "A" * 40, "--upload-pack=x", None, 1, "a" * 41])
def test_hostile_commits_are_refused(sha):
    with pytest.raises(deploy.DeployInputError):
        deploy.release_checkout_argv([("shop", "", sha)])
    with pytest.raises(deploy.DeployInputError):
        deploy.tag_push_argv("1.0", "m", [("shop", "", sha)])


def test_values_stay_arguments():
    argv = deploy.restore_argv("py", "/odoo", "/c.conf", "db; rm -rf /", "/b.zip", True)
    assert argv == ["py", "-c", deploy.RESTORE_SCRIPT, "/odoo", "/c.conf", "db; rm -rf /",
                    "/b.zip", "same", "neutralize", "replace"]  # fmt: skip
    argv = deploy.backup_argv("py", "odoo-bin", "/c.conf", "$(id)", "/x y.zip")
    assert argv[:3] == ["/bin/sh", "-c", deploy._BACKUP] and "$(id)" in argv


def test_parse_preflight_and_modules_to_update():
    text = (
        "noise\n\x1edisk 2097152\n\x1edirty shop\n"
        '\x1edb {"ok": true, "modules": {"base": "18.0.1.3", "demo": "18.0.1.0.0", '
        '"other": "18.0.2.0.0"}, "pending": [], "error": ""}\n'
    )
    found = deploy.parse_preflight(text)
    assert found["free_mb"] == 2048 and found["dirty"] == ["shop"]
    installed = found["db"]["modules"]
    versions = {"demo": "18.0.1.1.0", "other": "2.0.0", "new": "18.0.1.0.0"}
    # other: the manifest omits the series; not installed modules are left out.
    assert deploy.modules_to_update(installed, versions) == ["demo"]
    assert deploy.modules_to_update(installed, versions, ["other", "new"]) == ["demo", "other"]
    assert deploy.parse_preflight("\x1edb {not json\n\x1edisk x\n") == {
        "free_mb": None, "dirty": [], "db": None}  # fmt: skip


def test_split_by_folder():
    assert deploy.split_by_folder("\x1ca\nx\ny\x1cb\n") == {"a": "x\ny", "b": ""}
    assert deploy.split_by_folder("") == {}
