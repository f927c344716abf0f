# pylint: disable=redefined-outer-name
# (pytest fixtures are passed by the name of the function that makes them)
import base64
import http.server
import os
import shlex
import stat
import subprocess
import threading

import pytest

from engine import remote, ssh
from engine.remote import RemoteInputError

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


# --- Validators --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/OCA/web.git", ("https", "", "github.com", 443, "/OCA/web.git")),
        ("http://127.0.0.1:8080/r.git", ("http", "", "127.0.0.1", 8080, "/r.git")),
        ("https://[2001:db8::1]/r.git", ("https", "", "2001:db8::1", 443, "/r.git")),
        ("ssh://git@github.com/OCA/web.git", ("ssh", "git", "github.com", 22, "/OCA/web.git")),
        ("ssh://git@[::1]:2222/srv/r.git", ("ssh", "git", "::1", 2222, "/srv/r.git")),
        ("ssh://host/~/r.git", ("ssh", "", "host", 22, "/~/r.git")),
        ("git@github.com:OCA/web.git", ("ssh", "git", "github.com", 22, "OCA/web.git")),
        ("github.com:OCA/web.git", ("ssh", "", "github.com", 22, "OCA/web.git")),
        ("git@[::1]:r.git", ("ssh", "git", "::1", 22, "r.git")),
        ("git@host:/srv/git/r.git", ("ssh", "git", "host", 22, "/srv/git/r.git")),
        ("file:///srv/git/r.git", ("file", "", "", None, "/srv/git/r.git")),
        ("/srv/git/r.git", ("file", "", "", None, "/srv/git/r.git")),
    ],
)
def test_urls_accepted(url, expected):
    assert remote.check_url(url) == url
    assert remote.parse_url(url) == remote.Remote(*expected)


@pytest.mark.parametrize(
    "url",
    [
        "", None, 42, "-uhost", "--upload-pack=touch /tmp/x", "-oProxyCommand=x:r",
        "ext::sh -c touch% /tmp/x", "ext::sh", "fd::17", "transport::x",
        "https://u:p@h/x", "https://token@h/x", "https://@h/x", "http://u:p@h/x",
        "ssh://u:secret@h/x", "file:///a/../b", "/a/../b", "h:../x", "h:a/../../x",
        "https://h/a/%2e%2e/x", "https://h/a\nb", "https://h/a b", "https://h/a\tb",
        "https://h/a\u2028b", "git://h/x", "ftp://h/x", "git+ssh://git@h/x", "HTTPS://h/x",
        "https://h:0/x", "https://h:70000/x", "https://h:abc/x", "https://h/", "https://h",
        "https://-h/x", "ssh://-oProxyCommand=x/x", "https://h_x/y", "https://[example.com]/x",
        "https://[::1/x", "https://h/x?private_token=abc", "https://h/x#frag", "file://host/x",
        "relative/path", "h:", "h:-x", "@h:p", "[h]:p", "-@h:p", "https:/h/x", "ssh:h/x",
    ],
)  # fmt: skip
def test_urls_refused(url):
    with pytest.raises(RemoteInputError):
        remote.check_url(url)


def test_credentials_in_url_point_to_the_token_field_and_are_not_repeated():
    for url in ("https://user:s3cr3t-t0ken@github.com/o/r.git", "https://s3cr3t-t0ken@h/r"):
        with pytest.raises(RemoteInputError) as error:
            remote.check_url(url)
        assert "token field" in str(error.value)
        assert "s3cr3t" not in str(error.value)


def test_folders():
    assert remote.check_folder("") == ""
    assert remote.check_folder(".") == ""
    assert remote.check_folder("./") == ""
    assert remote.check_folder(None) == ""
    assert remote.check_folder("./odoo") == "odoo"
    assert remote.check_folder("addons//oca/./web/") == "addons/oca/web"
    assert remote.check_folder("addons/OCA_web-18.0+x@y") == "addons/OCA_web-18.0+x@y"
    for bad in ("a $(touch x); b", "a b", "a;b", "a'b", "`x`", "/".join("a" * 21),
                "/abs", "..", "a/../b", "a/-x", "-x", "a\nb", ".git", "a/.git/hooks",
                "a/.GIT", "a\\b", ".devops", ".devops/git", 3):  # fmt: skip
        with pytest.raises(RemoteInputError):
            remote.check_folder(bad)
    assert remote.check_folder("sub/.devops") == "sub/.devops"  # only the workspace's own


def test_branch_and_depth():
    assert remote.check_branch(None) is None
    assert remote.check_branch("") is None
    assert remote.check_branch("18.0") == "18.0"
    assert remote.check_branch("feature/x") == "feature/x"
    for bad in ("-f", "--upload-pack=x", "a b", "a..b", "a\nb", "x.lock", 18.0):
        with pytest.raises(RemoteInputError):
            remote.check_branch(bad)
    assert remote.check_depth(None) is None
    assert remote.check_depth(0) is None
    assert remote.check_depth(1) == 1
    assert remote.check_depth(1_000_000) == 1_000_000
    for bad in (-1, 1_000_001, True, False, 1.0, "1"):
        with pytest.raises(RemoteInputError):
            remote.check_depth(bad)


# --- Environment and secret files --------------------------------------------------------


def test_git_env_holds_only_paths():
    assert remote.git_env() == remote.GIT_ENV_BASE
    env = remote.git_env(
        ssh_key_path="/w/.devops/git/repo-1.key",
        known_hosts_path="/w/.devops/git/repo-1.known_hosts",
        askpass_path="/w/.devops/git/askpass.sh",
        token_path="/w/.devops/git/repo-1.token",
    )
    assert shlex.split(env["GIT_SSH_COMMAND"]) == [
        "ssh", "-i", "/w/.devops/git/repo-1.key", "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none",
        "-o", "UserKnownHostsFile=/w/.devops/git/repo-1.known_hosts",
        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
    ]  # fmt: skip
    assert env["GIT_ASKPASS"] == "/w/.devops/git/askpass.sh"
    assert env[remote.TOKEN_FILE_VAR] == "/w/.devops/git/repo-1.token"
    assert "DEVOPS_GIT_USER" not in env
    assert env["GIT_ALLOW_PROTOCOL"] == "file:http:https:ssh"
    key = "/w/$(touch${IFS}x);`id`|&.key"
    hostile = remote.git_env(ssh_key_path=key, known_hosts_path="/w/k")
    assert shlex.split(hostile["GIT_SSH_COMMAND"])[2] == key
    user = remote.git_env(askpass_path="/a", token_path="/t", token_user="bob")
    assert user["DEVOPS_GIT_USER"] == "bob"
    for bad in (
        {"ssh_key_path": "/w/k"},  # no known_hosts: the host could not be checked
        {"ssh_key_path": "/w/a key", "known_hosts_path": "/w/k"},
        {"ssh_key_path": "/w/%d", "known_hosts_path": "/w/k"},
        {"ssh_key_path": "/w/k", "known_hosts_path": "/w/a'b"},
        {"ssh_key_path": "relative", "known_hosts_path": "/w/k"},
        {"askpass_path": "/a"},
        {"token_path": "/t"},
        {"askpass_path": "/a", "token_path": "/t", "token_user": "a b"},
    ):
        with pytest.raises(RemoteInputError):
            remote.git_env(**bad)


def test_secret_files():
    assert remote.secret_dir("/home/odoo/ws/") == "/home/odoo/ws/.devops/git"
    assert remote.secret_files("/home/odoo//ws", 7) == {
        "key": "/home/odoo/ws/.devops/git/repo-7.key",
        "known_hosts": "/home/odoo/ws/.devops/git/repo-7.known_hosts",
        "token": "/home/odoo/ws/.devops/git/repo-7.token",
        "askpass": "/home/odoo/ws/.devops/git/askpass.sh",
    }
    for workspace, repo_id in (("relative", 1), ("/a/../b", 1), ("/w", 0), ("/w", "1"),
                               ("/w", True)):  # fmt: skip
        with pytest.raises(RemoteInputError):
            remote.secret_files(workspace, repo_id)


# --- Real git: clones from bare repositories ------------------------------------------------


@pytest.fixture
def home(tmp_path):
    """An empty HOME: no global git configuration or known_hosts of the user running tests."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def run(argv, cwd, home, extra=None, ok=True):
    env = {**os.environ, **remote.GIT_ENV_BASE, **IDENTITY, "HOME": str(home), **(extra or {})}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def git(*args, cwd=None):
    env = {**os.environ, **IDENTITY}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True)  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def bare(tmp_path):
    """A bare repository: main (two commits, a folder pkg/) and dev (one more commit)."""
    path, work = tmp_path / "remote.git", tmp_path / "author"
    git("init", "-q", "--bare", "-b", "main", str(path))
    git("clone", "-q", str(path), str(work))
    (work / "README").write_text("first\n")
    git("add", "README", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    (work / "pkg").mkdir()
    (work / "pkg" / "mod.py").write_text("x = 1\n")
    git("add", "pkg", cwd=work)
    git("commit", "-q", "-m", "second", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    git("switch", "-q", "-c", "dev", cwd=work)
    (work / "dev.txt").write_text("dev\n")
    git("add", "dev.txt", cwd=work)
    git("commit", "-q", "-m", "on dev", cwd=work)
    git("push", "-q", "origin", "dev", cwd=work)
    git("switch", "-q", "main", cwd=work)
    return path


@pytest.fixture
def workspace(tmp_path):
    path = tmp_path / "workspace"
    path.mkdir()
    return path


def clone(workspace, home, *args, ok=True, extra=None):
    done = run(remote.clone_argv(*args), workspace, home, extra, ok=ok)
    return done, remote.parse_clone_output(done.stdout)


def test_clone_into_the_workspace_folder_holding_its_secrets_then_adopt(bare, workspace, home):
    secrets = workspace / ".devops" / "git"
    secrets.mkdir(parents=True, mode=0o700)
    (secrets / "repo-1.token").write_text("not-for-git\n")
    done, result = clone(workspace, home, str(bare), ".")
    main = git("rev-parse", "main", cwd=bare)
    assert result == {"action": "cloned", "sha": main, "branch": "main", "other_origin": None}
    assert (workspace / "README").read_text() == "first\n"
    assert (workspace / "pkg" / "mod.py").exists()
    assert (secrets / "repo-1.token").read_text() == "not-for-git\n"
    assert sorted(p.name for p in (workspace / ".devops").iterdir()) == ["git"]  # no leftover
    assert git("config", "--get-all", "remote.origin.url", cwd=workspace) == str(bare)
    assert git("status", "--porcelain", "--untracked-files=all", cwd=workspace) == ""
    assert git("check-ignore", ".devops/git/repo-1.token", cwd=workspace)
    assert git("rev-parse", "--abbrev-ref", "main@{u}", cwd=workspace) == "origin/main"
    done, result = clone(workspace, home, str(bare), "")
    assert result == {"action": "adopted", "sha": main, "branch": "main", "other_origin": None}
    assert "adopted-other-origin" not in done.stdout
    exclude = (workspace / ".git" / "info" / "exclude").read_text()
    assert exclude.count("/.devops/") == 1  # added once


def test_clone_into_an_empty_workspace_folder(bare, workspace, home):
    _done, result = clone(workspace, home, str(bare), ".")
    assert result["action"] == "cloned" and result["branch"] == "main"
    assert (workspace / "README").exists()
    assert not (workspace / ".devops").exists() or not any((workspace / ".devops").iterdir())


def test_clone_a_branch_with_depth_into_a_new_sub_folder(bare, workspace, home):
    url = f"file://{bare}"
    _done, result = clone(workspace, home, url, "addons/oca/./web/", "dev", 1)
    folder = workspace / "addons" / "oca" / "web"
    assert result == {
        "action": "cloned",
        "sha": git("rev-parse", "dev", cwd=bare),
        "branch": "dev",
        "other_origin": None,
    }
    assert (folder / "dev.txt").exists()
    assert git("rev-list", "--count", "HEAD", cwd=folder) == "1"
    assert git("config", "--get-all", "remote.origin.url", cwd=folder) == url
    assert git("config", "--get-all", "remote.origin.fetch", cwd=folder) == (
        "+refs/heads/dev:refs/remotes/origin/dev"
    )  # only that branch
    done = run(remote.head_argv("addons/oca/web"), workspace, home)
    assert remote.parse_head(done.stdout) == (result["sha"], "dev")


def test_clone_full_history_into_an_existing_empty_folder(bare, workspace, home):
    (workspace / "odoo").mkdir()
    _done, result = clone(workspace, home, str(bare), "./odoo")
    assert result["action"] == "cloned" and result["branch"] == "main"
    assert git("rev-list", "--count", "HEAD", cwd=workspace / "odoo") == "2"
    assert "origin/dev" in git("branch", "-r", cwd=workspace / "odoo")


def test_hostile_values_stay_data(bare, workspace, home):
    git("branch", "x;$(touch${IFS}PWNED)`id`", "dev", cwd=bare)
    folder = "hostile"  # folder names are refused beyond a safe set (test_folders)
    _done, result = clone(workspace, home, str(bare), folder, "x;$(touch${IFS}PWNED)`id`")
    assert result["branch"] == "x;$(touch${IFS}PWNED)`id`"
    assert (workspace / folder / "dev.txt").exists()
    assert not list(workspace.rglob("PWNED"))


def test_adopt_a_clone_of_another_origin_without_showing_its_credentials(bare, workspace, home):
    git("clone", "-q", str(bare), str(workspace / "odoo"))
    git("remote", "set-url", "origin", "https://me:hunter2-token@example.com/o/r.git",
        cwd=workspace / "odoo")  # fmt: skip
    done, result = clone(workspace, home, str(bare), "odoo")
    assert result["action"] == "adopted"
    assert result["other_origin"] == "https://***@example.com/o/r.git"
    assert "hunter2" not in done.stdout + done.stderr
    git("remote", "remove", "origin", cwd=workspace / "odoo")
    _done, result = clone(workspace, home, str(bare), "odoo")
    assert result["other_origin"] == ""  # no origin at all


def test_refuse_a_folder_that_is_not_a_git_repository(bare, workspace, home):
    (workspace / "odoo").mkdir()
    (workspace / "odoo" / "mine.txt").write_text("keep me\n")
    done, result = clone(workspace, home, str(bare), "odoo", ok=False)
    assert done.returncode == 3 and result is None
    assert "odoo exists and is not a git repository: move it away" in done.stderr
    assert sorted(p.name for p in (workspace / "odoo").iterdir()) == ["mine.txt"]
    (workspace / "file").write_text("x")
    done, _result = clone(workspace, home, str(bare), "file", ok=False)
    assert done.returncode == 3 and "is not a folder" in done.stderr
    (workspace / ".devops").mkdir()
    done, _result = clone(workspace, home, str(bare), ".", ok=False)
    assert done.returncode == 3
    assert "The workspace folder exists and is not a git repository" in done.stderr
    assert not (workspace / ".git").exists()


def test_a_folder_inside_the_workspace_repository_is_not_adopted(bare, workspace, home):
    clone(workspace, home, str(bare), ".")
    done, _result = clone(workspace, home, str(bare), "pkg", ok=False)  # tracked by the root
    assert done.returncode == 3 and "pkg exists and is not a git repository" in done.stderr


def test_a_failed_clone_says_why_and_leaves_nothing(tmp_path, workspace, home):
    done, result = clone(workspace, home, str(tmp_path / "missing.git"), ".", ok=False)
    assert done.returncode != 0 and result is None
    assert "does not exist" in done.stderr
    assert sorted(p.name for p in workspace.iterdir()) in ([], [".devops"])
    assert not list((workspace / ".devops").iterdir())


def test_fetch_rev_parse_and_ls_remote(bare, workspace, home, tmp_path):
    clone(workspace, home, str(bare), "odoo")
    other = tmp_path / "other"
    git("clone", "-q", str(bare), str(other))
    (other / "new.txt").write_text("new\n")
    git("add", "new.txt", cwd=other)
    git("commit", "-q", "-m", "new", cwd=other)
    git("push", "-q", "origin", "main", cwd=other)
    git("push", "-q", "origin", "--delete", "dev", cwd=other)
    run(remote.fetch_argv("odoo"), workspace, home)
    new = git("rev-parse", "main", cwd=bare)
    done = run(remote.rev_parse_argv("odoo", "origin/main"), workspace, home)
    assert done.stdout.strip() == new
    assert "origin/dev" not in git("branch", "-r", cwd=workspace / "odoo")  # pruned
    listing = remote.parse_ls_remote(run(remote.ls_remote_argv(str(bare)), workspace, home).stdout)
    assert listing == {"refs": {"HEAD": new}, "head": "main"}
    done = run(remote.ls_remote_argv(f"file://{bare}", "main"), workspace, home)
    assert remote.parse_ls_remote(done.stdout)["refs"] == {"refs/heads/main": new}
    done = run(remote.rev_parse_argv("missing"), workspace, home, ok=False)
    assert done.returncode != 0


def test_argv_shapes():
    argv = remote.clone_argv("https://h/r.git", "", "main", 0)
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[3:] == ["devops-clone", "https://h/r.git", ".", "main", ""]
    assert 'clone --no-checkout "$@" -- "$url"' in argv[2]
    assert remote.clone_argv("/r.git", "x", None, 5)[4:] == ["/r.git", "x", "", "5"]
    assert remote.ls_remote_argv("https://h/r.git") == [
        "git", "-c", "credential.helper=", "ls-remote", "--symref", "--", "https://h/r.git",
        "HEAD",
    ]  # fmt: skip
    assert remote.fetch_argv("") == [
        "git", "-C", ".", "-c", "credential.helper=", "fetch", "--prune", "--progress",
    ]  # fmt: skip
    assert remote.rev_parse_argv("a/b") == [
        "git", "-C", "a/b", "rev-parse", "-q", "--verify", "HEAD^{commit}",
    ]  # fmt: skip
    for bad in (
        lambda: remote.clone_argv("ext::sh", "x"),
        lambda: remote.clone_argv("/r.git", "../x"),
        lambda: remote.clone_argv("/r.git", "x", "-b"),
        lambda: remote.clone_argv("/r.git", "x", None, -1),
        lambda: remote.fetch_argv("/abs"),
        lambda: remote.rev_parse_argv("x", "--all"),
        lambda: remote.ls_remote_argv("--upload-pack=x"),
    ):
        with pytest.raises(RemoteInputError):
            bad()


def test_parse_outputs():
    assert remote.parse_clone_output("") is None
    assert remote.parse_clone_output("cloned - main\n") == {
        "action": "cloned", "sha": "", "branch": "main", "other_origin": None,
    }  # fmt: skip
    assert remote.parse_head("abc HEAD\n") == ("abc", "HEAD")
    assert remote.parse_head("") is None


# --- SSH: host key scan and clone with a deploy key -----------------------------------------


def write_secret(path, text):
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def test_keyscan_then_clone_over_ssh_with_a_deploy_key(sshd, bare, workspace, home, tmp_path):
    private, public = remote.generate_deploy_key("deploy-test")
    with open(os.path.join(sshd.dir, "authorized_keys"), "a", encoding="ascii") as keys:
        keys.write(public + "\n")
    scan = run(remote.keyscan_argv(sshd.host, sshd.port), tmp_path, home)
    lines = remote.parse_keyscan(scan.stdout)
    assert len(lines) == 1
    offered = ssh.fingerprint(ssh.parse_host_key(lines[0]))
    assert offered == ssh.fingerprint(ssh.parse_host_key(sshd.host_key))
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    key = write_secret(secrets / "repo-1.key", private)
    known = write_secret(
        secrets / "repo-1.known_hosts",
        remote.known_hosts_line(sshd.host, sshd.port, lines[0]) + "\n",
    )
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    url = f"ssh://{sshd.user}@{sshd.host}:{sshd.port}{bare}"
    env = remote.git_env(ssh_key_path=key, known_hosts_path=known)
    done, result = clone(workspace, home, url, "odoo", "dev", 1, extra=env)
    assert result["action"] == "cloned" and result["branch"] == "dev"
    assert git("config", "--get-all", "remote.origin.url", cwd=workspace / "odoo") == url
    assert private.split("\n")[1] not in done.stdout + done.stderr
    run(remote.fetch_argv("odoo"), workspace, home, env)
    done = run(remote.ls_remote_argv(url, "main"), workspace, home, env)
    assert remote.parse_ls_remote(done.stdout)["refs"] == {
        "refs/heads/main": git("rev-parse", "main", cwd=bare)
    }

    empty = write_secret(secrets / "empty.known_hosts", "")
    env = remote.git_env(ssh_key_path=key, known_hosts_path=empty)
    done, _result = clone(workspace, home, url, "other", extra=env, ok=False)
    assert done.returncode != 0 and "Host key verification failed" in done.stderr
    assert not (workspace / "other").exists()

    stranger, _public = remote.generate_deploy_key()
    wrong = write_secret(secrets / "wrong.key", stranger)
    env = remote.git_env(ssh_key_path=wrong, known_hosts_path=known)
    done, _result = clone(workspace, home, url, "other", extra=env, ok=False)
    assert done.returncode != 0 and "Permission denied" in done.stderr


def test_keyscan_argv_and_known_hosts_lines():
    assert remote.keyscan_argv("git.example.com", 2222) == [
        "ssh-keyscan", "-T", "10", "-p", "2222", "-t", "ed25519,ecdsa,rsa", "--",
        "git.example.com",
    ]  # fmt: skip
    assert remote.keyscan_argv("[::1]")[-1] == "::1"
    for host, port in (("-oProxyCommand=x", 22), ("a b", 22), ("h", 0), ("h", "22")):
        with pytest.raises(RemoteInputError):
            remote.keyscan_argv(host, port)
    key = "ssh-ed25519 " + base64.b64encode(b"\0\0\0\x0bssh-ed25519" + b"k" * 36).decode()
    assert remote.known_hosts_line("h", 22, key + " comment") == f"h {key}"
    assert remote.known_hosts_line("h", 2222, key) == f"[h]:2222 {key}"
    assert remote.known_hosts_line("::1", 2222, key) == f"[::1]:2222 {key}"
    for bad in ("", "ssh-ed25519", "ssh-ed25519 !!!", "ssh-dss AAAA", key + "\nh " + key):
        with pytest.raises(RemoteInputError):
            remote.known_hosts_line("h", 22, bad)


def test_parse_keyscan_order_and_junk():
    def blob(key_type):
        return base64.b64encode(len(key_type).to_bytes(4, "big") + key_type.encode()).decode()

    ed, ec, rsa = (f"{t} {blob(t)}" for t in ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"))
    text = (
        "# h:22 SSH-2.0-OpenSSH_9.2\n"
        f"h {rsa}\n"
        f"h {ec}\n"
        "h ssh-dss AAAAB3NzaC1kc3M=\n"
        f"h ssh-ed25519 {blob('ssh-rsa')}\n"  # a blob of another type
        "h ssh-ed25519 not-base64!\n"
        f"[h]:2222 {ed}\n"
        f"h {ed}\n"
        "garbage\n"
    )
    assert remote.parse_keyscan(text) == [ed, ec, rsa]
    assert remote.parse_keyscan("") == []


def test_generate_deploy_key_is_read_by_paramiko():
    private, public = remote.generate_deploy_key()
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    key_type, data, comment = public.split(" ")
    assert (key_type, comment) == ("ssh-ed25519", "erplibre-devops")
    assert ssh.key_line(ssh.load_private_key(private)) == f"{key_type} {data}"
    assert remote.generate_deploy_key()[0] != private
    with pytest.raises(RemoteInputError):
        remote.generate_deploy_key("a\nb")


# --- HTTPS tokens: the askpass script and a real smart-HTTP server --------------------------


@pytest.fixture
def askpass(tmp_path):
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o700)
    script = folder / "askpass.sh"
    script.write_text(remote.ASKPASS_SCRIPT)
    script.chmod(0o700)
    token = write_secret(folder / "repo-1.token", "s3cret-Token_value\n")
    return str(script), token


def test_askpass_script_answers_each_prompt(askpass, tmp_path):
    script, token = askpass
    env = {**os.environ, "DEVOPS_GIT_TOKEN_FILE": token}

    def answer(prompt, extra=None):
        done = subprocess.run(["sh", script, prompt], env={**env, **(extra or {})},
                              capture_output=True, text=True, check=True)  # fmt: skip
        return done.stdout

    assert answer("Password for 'https://x@h': ") == "s3cret-Token_value\n"
    assert answer("Username for 'https://h': ") == "x-access-token\n"
    assert answer("Username for 'https://h': ", {"DEVOPS_GIT_USER": "bob"}) == "bob\n"
    without_newline = write_secret(tmp_path / "bare.token", "tok-no-newline")
    assert answer("Password: ", {"DEVOPS_GIT_TOKEN_FILE": without_newline}) == "tok-no-newline"


def test_git_takes_the_token_from_askpass(askpass, home):
    script, token = askpass
    env = remote.git_env(askpass_path=script, token_path=token)
    assert "s3cret" not in repr(env)
    done = subprocess.run(
        ["git", "-c", "credential.helper=", "credential", "fill"],
        input="protocol=https\nhost=git.example.com\n\n",
        env={**os.environ, "HOME": str(home), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "username=x-access-token\n" in done.stdout
    assert "password=s3cret-Token_value\n" in done.stdout


class _GitHTTP(http.server.BaseHTTPRequestHandler):
    """Git's smart HTTP (``git http-backend``) behind HTTP Basic authentication."""

    root = ""
    login = ""
    logins = []

    def _serve(self):
        self.logins.append(self.headers.get("Authorization", ""))
        if self.headers.get("Authorization") != "Basic " + base64.b64encode(
            self.login.encode()
        ).decode("ascii"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _mark, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "tester",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(length),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        body = self.rfile.read(length) if length else b""
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                             check=False).stdout  # fmt: skip
        head, _blank, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for row in head.decode("latin-1").split("\r\n"):
            name, _colon, value = row.partition(": ")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, *args):
        pass


@pytest.fixture
def git_http(bare):
    """http://127.0.0.1:PORT/remote.git served by git http-backend, user tester, a token."""
    login = "x-access-token:s3cret-Token_value"
    handler = type("Handler", (_GitHTTP,), {"root": str(bare.parent), "logins": [], "login": login})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{bare.name}", handler
    server.shutdown()
    server.server_close()


def test_clone_over_http_with_a_token(git_http, askpass, workspace, home, tmp_path):
    url, handler = git_http
    script, token = askpass
    # The user's own credential helper would store the token: it is switched off.
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    env = remote.git_env(askpass_path=script, token_path=token)
    done, result = clone(workspace, home, url, "odoo", "main", extra=env)
    assert result["action"] == "cloned" and result["branch"] == "main"
    assert git("config", "--get-all", "remote.origin.url", cwd=workspace / "odoo") == url
    assert "s3cret" not in done.stdout + done.stderr
    for path in [*workspace.rglob("*"), *home.rglob("*")]:
        if path.is_file():
            assert b"s3cret" not in path.read_bytes(), path
    assert not (home / ".git-credentials").exists()
    assert any(login.startswith("Basic ") for login in handler.logins)

    done, _result = clone(workspace, home, url, "no-token", ok=False)
    assert done.returncode != 0 and "terminal prompts disabled" in done.stderr
    wrong = write_secret(tmp_path / "wrong.token", "not-the-token")
    env = remote.git_env(askpass_path=script, token_path=wrong)
    done, _result = clone(workspace, home, url, "wrong-token", extra=env, ok=False)
    assert done.returncode != 0 and "Authentication failed" in done.stderr
    assert not (workspace / "wrong-token").exists()


# --- repos.yaml and redaction ---------------------------------------------------------------


def test_parse_repos_yaml():
    data = {
        "./odoo": {
            "remotes": {"odoo": "https://github.com/odoo/odoo.git"},
            "merges": ["odoo 18.0"],
            "defaults": {"depth": 1},
            "target": "odoo 18.0",
        },
        "addons/OCA_web": {
            "remotes": {
                "oca": "https://github.com/OCA/web.git",
                "acsone": "git+ssh://git@github.com/acsone/web.git",
            },
            "merges": [
                {"remote": "acsone", "ref": "18.0-fix", "depth": 50},
                "oca refs/pull/105/head",
                "oca 18.0",
            ],
            "target": "acsone aggregated",
            "shell_command_after": ["rm -rf web_x"],
            "defaults": {"depth": 200, "shallow-since": "2024-01-01"},
            "fetch_all": ["oca"],
        },
        "pinned": {
            "remotes": {"o": "git@github.com:o/r.git"},
            "merges": ["o 6054de2c4e669f85cec380da90d746061967dc83"],
        },
    }
    odoo, web, pinned = remote.parse_repos_yaml(data)
    assert odoo == {
        "folder": "odoo",
        "url": "https://github.com/odoo/odoo.git",
        "branch": "18.0",
        "depth": 1,
        "warnings": [],
    }
    assert web["folder"] == "addons/OCA_web"
    assert web["url"] == "ssh://git@github.com/acsone/web.git"
    assert (web["branch"], web["depth"]) == ("18.0-fix", 50)
    assert "3 merges: only the first is cloned." in web["warnings"]
    assert any("shell_command_after is not run" in w for w in web["warnings"])
    assert any("git+ssh://" in w for w in web["warnings"])
    assert any("aggregated" in w for w in web["warnings"])
    assert any("shallow-since" in w for w in web["warnings"])
    assert (pinned["branch"], pinned["depth"]) == (None, None)
    assert any("not a branch" in w for w in pinned["warnings"])


ENTRY = {"remotes": {"o": "https://h/r"}, "merges": ["o main"]}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({}, "no repository"),
        ([], "no repository"),
        ({"/abs": {"remotes": {"o": "https://h/r"}, "merges": ["o main"]}}, "/abs"),
        ({"../x": {"remotes": {"o": "https://h/r"}, "merges": ["o main"]}}, "../x"),
        ({"x": {"remotes": {"o": "https://u:p@h/r"}, "merges": ["o main"]}}, "token field"),
        ({"x": {"remotes": {"o": "ext::sh -c x"}, "merges": ["o main"]}}, "x:"),
        ({"x": {"remotes": {"o": "https://${TOKEN}@h/r"}, "merges": ["o main"]}}, "'$'"),
        ({"x": {"remotes": {"o": "https://h/r"}, "merges": ["o -f"]}}, "x:"),
        ({"x": {"remotes": {"o": "https://h/r"}, "merges": ["p main"]}}, "'p'"),
        ({"x": {"remotes": {"o": "https://h/r"}, "merges": ["o"]}}, "remote ref"),
        ({"x": {"remotes": {"o": "https://h/r"}, "merges": []}}, "No merges"),
        ({"x": {"remotes": {}, "merges": ["o main"]}}, "No remotes"),
        ({"x": {**ENTRY, "defaults": {"depth": -1}}}, "depth"),
        ({"x": "https://h/r"}, "remotes"),
        ({"x": ENTRY, "./x/": ENTRY}, "same folder"),
    ],
)
def test_parse_repos_yaml_refuses(data, words):
    with pytest.raises(RemoteInputError) as error:
        remote.parse_repos_yaml(data)
    assert words in str(error.value)


def test_redact():
    text = "cloning with tok-123456 and tok-123456-longer; short abc stays"
    assert remote.redact(text, ["tok-123456", "tok-123456-longer", "abc", "", None]) == (
        "cloning with *** and ***; short abc stays"
    )
    assert remote.redact("", ["secret"]) == ""
    assert remote.redact("nothing", []) == "nothing"


def test_secret_files_live_only_while_the_command_runs(tmp_path):
    key, token = tmp_path / "k", tmp_path / "t"
    key.write_text("secret key")
    token.write_text("secret token")
    done = subprocess.run(
        remote.with_secret_files(
            ["/bin/sh", "-c", 'cat "$0"; exit 5', str(key)], [str(key), str(token)]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout == "secret key"
    assert done.returncode == 5
    assert not key.exists() and not token.exists()
    assert remote.with_secret_files(["true"], []) == ["true"]
    with pytest.raises(RemoteInputError):
        remote.with_secret_files(["true"], ["relative"])
