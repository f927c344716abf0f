"""Code and Build on real parts: bare repositories made here, cloned locally and over the
test sshd (pinned host key, deploy key), the module scan on a generated tree and on the real
Odoo tree, builds (offline: a wheel made here), and a new Odoo instance, end to end."""

import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile

import psycopg2

from odoo import sql_db
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.erplibre_devops.engine import remote, ssh

from .common import RunnerCase, SSHCase

_logger = logging.getLogger(__name__)

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd, *args):
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def manifest(depends=(), python=()):
    return repr(
        {
            "name": "Demo",
            "version": "18.0.1.0.0",
            "license": "LGPL-3",
            "depends": list(depends),
            "external_dependencies": {"python": list(python)},
        }
    )


def make_repo(root, name, files, branch="main"):
    """A bare repository ``root/name.git`` holding ``files`` ({path: text}) on ``branch``;
    returns (bare path, work tree path)."""
    work = os.path.join(root, f"{name}-work")
    os.makedirs(work)
    git(work, "init", "--quiet", "--initial-branch", branch)
    for path, text in files.items():
        write(os.path.join(work, path), text)
    git(work, "add", "--all")
    git(work, "commit", "--quiet", "-m", f"{name}: first")
    bare = os.path.join(root, f"{name}.git")
    git(root, "clone", "--quiet", "--bare", work, bare)
    return bare, work


def make_wheel(folder, name="devopsdemo", version="1.0"):
    """A pure-Python wheel made by hand (offline builds install it with --no-index)."""
    os.makedirs(folder, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    path = os.path.join(folder, f"{name}-{version}-py3-none-any.whl")
    files = {
        f"{name}/__init__.py": "VALUE = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: devops-test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{p},,\n" for p in files) + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
        wheel.writestr(f"{dist}/RECORD", record)
    return path


def odoo_src():
    return os.path.dirname(config["root_path"])


class CodeCase(RunnerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.remotes = cls.make_tempdir()
        cls.bare_a, cls.work_a = make_repo(
            cls.remotes,
            "project",
            {
                "README.md": "project\n",
                "devops_demo_a/__manifest__.py": manifest(["base"]),
                "devops_demo_a/__init__.py": "",
            },
        )
        cls.bare_b, cls.work_b = make_repo(
            cls.remotes,
            "addons",
            {
                "devops_demo_b/__manifest__.py": manifest(["devops_demo_a"]),
                "devops_demo_b/__init__.py": "",
                "devops_demo_c/__manifest__.py": manifest(["devops_demo_b", "missing_one"]),
            },
        )
        git(cls.work_b, "switch", "--quiet", "--create", "dev")
        write(os.path.join(cls.work_b, "DEV"), "dev\n")
        git(cls.work_b, "add", "DEV")
        git(cls.work_b, "commit", "--quiet", "-m", "dev branch")
        git(cls.work_b, "push", "--quiet", cls.bare_b, "dev")

    def new_workspace(self, name, machine=None, repos=()):
        path = os.path.join(self.make_tempdir(), "ws")
        workspace = self.env["devops.workspace"].create(
            {"name": name, "path": path, "machine_id": (machine or self.local_machine).id}
        )
        for values in repos:
            self.env["devops.workspace.repo"].create({"workspace_id": workspace.id, **values})
        return workspace

    def clone(self, workspace):
        run = self.env["devops.pipeline.run"].browse(workspace.clone())
        self.run_all(timeout=180)
        return run


@tagged("post_install", "-at_install")
class TestClone(CodeCase):
    def test_clone_scan_and_dependencies(self):
        workspace = self.new_workspace(
            "Clone demo",
            repos=[
                {
                    "url": f"file://{self.bare_b}",
                    "folder": "addons/extra",
                    "branch": "dev",
                    "depth": 1,
                },
                {"url": self.bare_a, "folder": ""},
            ],
        )
        run = self.clone(workspace)
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(set(workspace.repo_ids.mapped("state")), {"cloned"})
        root = workspace.repo_ids.filtered(lambda r: not r.folder)
        self.assertEqual(root.commit, git(self.work_a, "rev-parse", "HEAD"))
        extra = os.path.join(workspace.path, "addons/extra")
        self.assertTrue(os.path.isfile(os.path.join(extra, "DEV")), "the branch was cloned")
        self.assertEqual(git(extra, "rev-list", "--count", "HEAD"), "1", "depth 1")
        # The workspace's own folder is a clone: its git summary is read.
        self.assertEqual(workspace.git_branch, "main")
        # Modules, their graph and the addons path.
        names = sorted(workspace.module_ids.mapped("name"))
        self.assertEqual(names, ["devops_demo_a", "devops_demo_b", "devops_demo_c"])
        module = {m.name: m for m in workspace.module_ids}
        self.assertEqual(module["devops_demo_c"].depends_ids, module["devops_demo_b"])
        self.assertEqual(module["devops_demo_c"].missing_depends, "missing_one")
        self.assertEqual(
            module["devops_demo_c"].all_depends_ids,
            module["devops_demo_a"] | module["devops_demo_b"],
        )
        self.assertEqual(
            module["devops_demo_a"].all_dependent_ids,
            module["devops_demo_b"] | module["devops_demo_c"],
        )
        self.assertEqual(module["devops_demo_b"].repo_id.folder, "addons/extra")
        self.assertIn(extra, workspace.addons_path.split(","))
        # A second clone adopts what is there.
        again = self.clone(workspace)
        self.assertEqual(again.state, "done", again.message)
        self.assertEqual(set(workspace.repo_ids.mapped("message")), {"Adopted as it was."})

    def test_changed_modules_between_commits(self):
        workspace = self.new_workspace("Changes", repos=[{"url": self.bare_a, "folder": ""}])
        self.assertEqual(self.clone(workspace).state, "done")
        self.env["devops.workspace.repo"].create(
            {"workspace_id": workspace.id, "url": self.bare_b, "folder": "extra"}
        )
        self.assertEqual(self.clone(workspace).state, "done")
        first = git(workspace.path, "rev-parse", "HEAD")
        write(os.path.join(workspace.path, "devops_demo_a/models.py"), "# changed\n")
        git(workspace.path, "add", "--all")
        git(workspace.path, "commit", "--quiet", "-m", "change a")
        self.assertEqual(workspace.changed_modules(first, "HEAD"), ["devops_demo_a"])
        self.assertEqual(
            workspace.changed_modules(first, "HEAD", impacted=True),
            ["devops_demo_a", "devops_demo_b", "devops_demo_c"],
        )
        self.assertEqual(workspace.changed_modules("HEAD", "HEAD"), [])
        for ref in ("--output=/tmp/x", "a b", "HEAD;id", "$(id)", ""):
            with self.assertRaises(UserError, msg=ref):
                workspace.changed_modules(ref, "HEAD")

    def test_bad_urls_branches_and_folders_are_refused(self):
        workspace = self.new_workspace("Hostile")
        Repo = self.env["devops.workspace.repo"]
        for values in (
            {"url": "-uhost"},
            {"url": "ext::sh -c touch% /tmp/pwned"},
            {"url": "fd::17"},
            {"url": "https://user:secret@example.com/x.git"},
            {"url": "https://example.com/a/../b.git"},
            {"url": "https://example.com/x.git\nevil"},
            {"url": self.bare_a, "branch": "--upload-pack=touch /tmp/x"},
            {"url": self.bare_a, "branch": "a..b"},
            {"url": self.bare_a, "folder": "../outside"},
            {"url": self.bare_a, "folder": "/etc"},
            {"url": self.bare_a, "folder": "-x"},
            {"url": self.bare_a, "folder": "a/.git/hooks"},
            {"url": self.bare_a, "depth": -1},
        ):
            with self.subTest(values=values), self.assertRaises(ValidationError):
                with self.env.cr.savepoint():
                    Repo.create({"workspace_id": workspace.id, **values})

    def test_import_repos_yaml(self):
        workspace = self.new_workspace("Aggregated")
        count = workspace.import_repos_yaml(
            f"""
./odoo:
    remotes:
        origin: {self.bare_a}
    merges:
        - origin main
    target: origin main
    defaults:
        depth: 1
addons/web:
    remotes:
        oca: https://github.com/OCA/web.git
    merges:
        - oca 18.0
    target: oca 18.0
"""
        )
        self.assertEqual(count, 2)
        repos = {r.folder: r for r in workspace.repo_ids}
        self.assertEqual(repos["odoo"].url, self.bare_a)
        self.assertEqual(repos["odoo"].depth, 1)
        self.assertEqual(repos["addons/web"].branch, "18.0")
        with self.assertRaises(UserError):
            workspace.import_repos_yaml("x: [unclosed")
        with self.assertRaises(UserError):
            workspace.import_repos_yaml("./bad:\n  remotes: {o: 'ext::sh'}\n  merges: ['o main']\n")

    def test_secrets_are_write_only_and_managers_only(self):
        workspace = self.new_workspace(
            "Private", repos=[{"url": "https://127.0.0.1:9/private.git", "folder": "p"}]
        )
        repo = workspace.repo_ids
        with self.assertRaises(AccessError):
            repo.with_user(self.devops_user).write({"token": "stolen"})
        with self.assertRaises(AccessError):
            workspace.with_user(self.devops_user).action_generate_deploy_key()
        repo.with_user(self.devops_manager).write({"token": "tok-SECRET-123456"})
        self.assertTrue(repo.token_set)
        self.assertFalse(repo.with_user(self.devops_manager).read(["token"])[0]["token"])
        workspace.with_user(self.devops_manager).action_generate_deploy_key()
        self.assertTrue(workspace.deploy_key_public.startswith("ssh-ed25519 "))
        private = workspace._secret_values()["deploy_key"]
        self.assertIn("OPENSSH PRIVATE KEY", private)
        # A clone of the HTTPS repository (nobody listens: it fails) gives git the token
        # through GIT_ASKPASS: never in argv, the environment of the run, its output.
        run = self.clone(workspace)
        self.assertEqual(run.state, "failed")
        runs = self.env["devops.exec"].search([("workspace_id", "=", workspace.id)])
        self.assertTrue(runs)
        for exec_run in runs:
            for field in ("argv", "env_vars", "output", "command"):
                self.assertNotIn("tok-SECRET-123456", exec_run[field] or "", field)
        env = json.loads(runs[:1].env_vars)
        token_file = env["DEVOPS_GIT_TOKEN_FILE"]
        # The token lived on the machine only while git ran.
        self.assertFalse(os.path.exists(token_file))
        write(token_file + ".probe", "probe-token")
        answer = subprocess.run(
            [env["GIT_ASKPASS"], "Password for 'https://127.0.0.1:9': "],
            env={**os.environ, **env, "DEVOPS_GIT_TOKEN_FILE": token_file + ".probe"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.assertEqual(answer.strip(), "probe-token")
        with self.assertRaises(UserError):
            workspace.changed_modules("HEAD", "HEAD", impacted="yes")


@tagged("post_install", "-at_install")
class TestCloneSSH(SSHCase, CodeCase):
    def test_private_repository_over_ssh_with_deploy_key(self):
        """Over the test sshd: the workspace's machine is the SSH one, and git on it reaches
        the git server (the same sshd) with the deploy key and the pinned host key."""
        self.trust_ssh_machine()
        url = f"ssh://{self.sshd.user}@{self.sshd.host}:{self.sshd.port}{self.bare_b}"
        workspace = self.new_workspace(
            "Private over SSH", machine=self.ssh_machine, repos=[{"url": url, "folder": "x"}]
        )
        workspace.action_generate_deploy_key()
        with open(os.path.join(self.sshd.dir, "authorized_keys"), "a", encoding="ascii") as keys:
            keys.write(workspace.deploy_key_public + "\n")
        repo = workspace.repo_ids
        first = self.clone(workspace)
        self.assertEqual(first.state, "failed")
        expected = ssh.fingerprint(ssh.parse_host_key(self.sshd.host_key))
        self.assertIn(expected, first.message)
        self.assertEqual(repo.host_key_offered_fingerprint, expected)
        with self.assertRaises(AccessError):
            repo.with_user(self.devops_user).action_accept_host_key(expected)
        with self.assertRaises(UserError):
            repo.action_accept_host_key("SHA256:not-the-one")
        repo.action_accept_host_key(expected)
        self.assertTrue(repo.host_key)
        second = self.clone(workspace)
        self.assertEqual(second.state, "done", second.message)
        self.assertEqual(repo.state, "cloned")
        self.assertEqual(repo.commit, git(self.work_b, "rev-parse", "main"))
        self.assertEqual(sorted(workspace.module_ids.mapped("name"))[:1], ["devops_demo_b"])
        private = workspace._secret_values()["deploy_key"]
        # The deploy key was on the machine only while git ran (any DevOps user may run
        # commands there as that account).
        secret_dir = workspace._git_secret_dir(self.ssh_machine._executor())
        for repo_id in workspace.repo_ids.ids:
            for kind in ("key", "token"):
                path = remote.secret_files(secret_dir, repo_id)[kind]
                self.assertFalse(os.path.exists(path), path)
        config_text = open(os.path.join(workspace.path, "x/.git/config"), encoding="utf-8").read()
        self.assertIn(url, config_text)
        for exec_run in self.env["devops.exec"].search([("workspace_id", "=", workspace.id)]):
            for field in ("argv", "env_vars", "output", "command"):
                self.assertNotIn(private.splitlines()[1], exec_run[field] or "", field)
        # Another key at the server's address: git refuses it (StrictHostKeyChecking).
        other = self.env["devops.workspace.repo"].create(
            {"workspace_id": workspace.id, "url": url, "folder": "y",
             "host_key": self.sshd.client_public["ed25519"]}
        )  # fmt: skip
        third = self.clone(workspace)
        self.assertEqual(third.state, "failed")
        self.assertIn("Host key verification failed", other.message or "")


@tagged("post_install", "-at_install")
class TestScan(CodeCase):
    def test_real_odoo_tree(self):
        workspace = self.env["devops.workspace"].create(
            {"name": "Odoo source", "path": odoo_src(), "machine_id": self.local_machine.id}
        )
        count = workspace.scan_modules()
        self.assertGreaterEqual(count, 2)
        self.assertEqual(workspace.odoo_version, "18.0")
        self.assertEqual(workspace.odoo_path, odoo_src())
        self.assertEqual(
            workspace.addons_path.split(",")[0], os.path.join(odoo_src(), "odoo/addons")
        )
        modules = {m.name: m for m in workspace.module_ids}
        self.assertIn(modules["base"], modules["web"].depends_ids)
        self.assertIn(modules["web"], modules["base"].all_dependent_ids)
        self.assertTrue(modules["base"].odoo_core)
        # Only DevOps users scan.
        with self.assertRaises(AccessError):
            workspace.with_user(self.plain_user).scan_modules()


@tagged("post_install", "-at_install")
class TestBuild(CodeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wheels = os.path.join(cls.make_tempdir(), "wheels")
        make_wheel(cls.wheels)
        cls.bare_req, _work = make_repo(
            cls.remotes,
            "with-requirements",
            {
                "devops_demo_req/__manifest__.py": manifest(["base"], ["devopsdemo"]),
                "devops_demo_req/requirements.txt": "devopsdemo==1.0\n",
            },
        )
        cls.env["ir.config_parameter"].set_param(
            "erplibre_devops.pip_options", f"--no-index --find-links {cls.wheels}"
        )

    def test_build_offline_and_reuse_by_fingerprint(self):
        workspace = self.new_workspace("Build demo", repos=[{"url": self.bare_req, "folder": ""}])
        self.assertEqual(self.clone(workspace).state, "done")
        with self.assertRaises(AccessError):  # pip runs code: not for plain DevOps users here
            workspace.with_user(self.devops_user).build()
        build = self.env["devops.build"].browse(workspace.build())
        self.run_all(timeout=300)
        self.assertEqual(build.state, "done", build.message)
        self.assertIn("devopsdemo==1.0", build.lock.split("\n"))
        self.assertTrue(os.path.isfile(os.path.join(build.venv_path, "bin", "python")))
        self.assertTrue(build.venv_path.startswith(workspace.path + "/.devops/venv-"))
        self.assertEqual(len(build.fingerprint), 64)
        self.assertEqual(json.loads(build.commits), {"": git(workspace.path, "rev-parse", "HEAD")})
        # Same commits, same requirements: reused, not redone.
        self.assertEqual(workspace.build(), build.id)
        self.assertEqual(build.reuse_count, 1)
        # A change of the requirements is another fingerprint.
        write(os.path.join(workspace.path, "devops_demo_req/requirements.txt"), "devopsdemo\n")
        git(workspace.path, "commit", "--quiet", "-am", "unpinned")
        self.env["ir.config_parameter"].set_param("erplibre_devops.build_keep", "1")
        old_venv = build.venv_path
        second = self.env["devops.build"].browse(workspace.build())
        self.assertNotEqual(second, build)
        self.assertNotEqual(second.fingerprint, build.fingerprint)
        self.run_all(timeout=300)
        self.assertEqual(second.state, "done", second.message)
        # Retention: the last build stays; the older one and its virtualenv are gone.
        self.assertFalse(build.exists())
        self.assertFalse(os.path.exists(old_venv))
        self.assertTrue(os.path.isdir(second.venv_path))

    def test_a_failing_pip_says_what_to_do(self):
        bare, _work = make_repo(
            self.remotes,
            "missing-requirement",
            {
                "devops_demo_missing/__manifest__.py": manifest(["base"]),
                "devops_demo_missing/requirements.txt": "devops-no-such-package==9.9\n",
            },
        )
        workspace = self.new_workspace("Pip fails", repos=[{"url": bare, "folder": ""}])
        self.assertEqual(self.clone(workspace).state, "done")
        build = self.env["devops.build"].browse(workspace.build())
        self.run_all(timeout=300)
        self.assertEqual(build.state, "failed")
        self.assertIn("pip could not install the requirements", build.message)
        self.assertIn("devops-no-such-package", build.message)
        self.assertFalse(build.lock)

    def test_image_of_a_workspace_with_a_dockerfile(self):
        """A workspace with a Dockerfile: the build makes its image (FROM scratch with
        Debian's static busybox: no registry), tagged with the fingerprint."""
        with open(shutil.which("busybox") or "/bin/busybox", "rb") as handle:
            busybox = handle.read()
        work = os.path.join(self.make_tempdir(), "image-work")
        os.makedirs(work)
        git(work, "init", "--quiet", "--initial-branch", "main")
        write(os.path.join(work, "Dockerfile"), "FROM scratch\nCOPY busybox /bin/busybox\n")
        with open(os.path.join(work, "busybox"), "wb") as handle:
            handle.write(busybox)
        git(work, "add", "--all")
        git(work, "commit", "--quiet", "-m", "image")
        workspace = self.new_workspace("Image demo", repos=[{"url": work, "folder": ""}])
        self.assertEqual(self.clone(workspace).state, "done")
        build = self.env["devops.build"].browse(workspace.build(adopt_path=sys.prefix))
        self.assertTrue(build.dockerfile)
        self.run_all(timeout=300)
        self.assertEqual(build.state, "done", build.message)
        self.assertTrue(build.image.endswith(":" + build.fingerprint[:16]))
        self.addCleanup(subprocess.run, ["docker", "image", "rm", build.image],
                        capture_output=True, check=False)  # fmt: skip
        label = subprocess.run(
            ["docker", "image", "inspect", "--format",
             '{{index .Config.Labels "erplibre-devops.fingerprint"}}', build.image],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        self.assertEqual(label, build.fingerprint)
        # Without a Dockerfile, the step is skipped.
        other = self.new_workspace("No image", repos=[{"url": self.bare_a, "folder": ""}])
        self.assertEqual(self.clone(other).state, "done")
        plain = self.env["devops.build"].browse(other.build(adopt_path=sys.prefix))
        self.run_all(timeout=120)
        self.assertEqual(plain.state, "done", plain.message)
        self.assertFalse(plain.image)
        image_step = plain.step_ids.filtered(lambda s: s.action == "build_image")
        self.assertEqual(image_step.state, "skipped")

    def test_adopt_a_virtualenv(self):
        workspace = self.new_workspace("Adopt demo", repos=[{"url": self.bare_a, "folder": ""}])
        self.assertEqual(self.clone(workspace).state, "done")
        build = self.env["devops.build"].browse(workspace.build(adopt_path=sys.prefix))
        self.run_all(timeout=120)
        self.assertEqual(build.state, "done", build.message)
        self.assertTrue(build.adopted)
        self.assertEqual(build.venv_path, sys.prefix)
        self.assertRegex(build.lock, r"(?m)^psycopg2[^=]*==")
        self.assertEqual(workspace.build(adopt_path=sys.prefix), build.id)
        with self.assertRaises(UserError):
            workspace.build(adopt_path="relative/venv")


class NewInstanceMixin:
    """Clone a workspace holding the real Odoo tree (as a git repository made here) and an
    addons repository, then the New Odoo instance wizard, end to end."""

    @classmethod
    def make_odoo_remote(cls):
        bare = os.path.join(cls.remotes, "odoo.git")
        work = os.path.join(cls.remotes, "odoo-work")
        subprocess.run(["cp", "-a", odoo_src(), work], check=True)
        write(os.path.join(work, ".gitignore"), "__pycache__/\n*.pyc\n")
        git(work, "init", "--quiet", "--initial-branch", "18.0")
        git(work, "add", "--all")
        git(work, "commit", "--quiet", "-m", "Odoo 18.0")
        git(cls.remotes, "clone", "--quiet", "--bare", work, bare)
        return bare

    def adopted_instance(self, workspace, name, modules, prefix, **values):
        """The New Odoo instance wizard on ``workspace`` (this Python's virtualenv adopted),
        run to its end; the instance runs (stopped, its database dropped at cleanup)."""
        database = f"devops_{prefix}_{uuid.uuid4().hex[:8]}"
        self.addCleanup(drop_database, database)
        wizard = self.env["devops.instance.new.wizard"].create(
            {
                "workspace_id": workspace.id,
                "name": name,
                "database": database,
                "modules": modules,
                "build_mode": "adopt",
                "adopt_path": sys.prefix,
                "admin_password": f"{prefix}-Admin-pass",
                "db_same": True,
                **values,
            }
        )
        run = self.env["devops.pipeline.run"].browse(wizard.action_create()["res_id"])
        instance = run.instance_id
        self.addCleanup(stop_instance, instance)
        self.run_all(timeout=600)
        self.assertEqual(run.state, "done", run.message)
        return instance

    def new_instance(self, machine, db_values):
        workspace = self.new_workspace(
            f"Odoo on {machine.name}",
            machine=machine,
            repos=[
                {"url": self.bare_odoo, "folder": "odoo"},
                {"url": self.bare_b, "folder": "extra"},
                {"url": self.bare_a, "folder": "project"},
            ],
        )
        run = self.clone(workspace)
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(workspace.odoo_version, "18.0")
        self.assertEqual(workspace.odoo_path, os.path.join(workspace.path, "odoo"))
        database = f"devops_e2e_{uuid.uuid4().hex[:8]}"
        self.addCleanup(drop_database, database)
        wizard = self.env["devops.instance.new.wizard"].create(
            {
                "workspace_id": workspace.id,
                "name": f"E2E {machine.name}",
                "database": database,
                "modules": "devops_demo_b",
                "build_mode": "adopt",
                "adopt_path": sys.prefix,
                "admin_password": "e2e-Admin-pass",
                **db_values,
            }
        )
        self.assertTrue(1024 < wizard.port < 65536)
        with self.assertRaises(ValidationError):
            wizard.copy({"modules": "not_in_the_workspace"})._check()
        action = wizard.action_create()
        run = self.env["devops.pipeline.run"].browse(action["res_id"])
        instance = run.instance_id
        self.addCleanup(stop_instance, instance)
        self.run_all(timeout=600)
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(instance.state, "running")
        with urllib.request.urlopen(f"{instance.url}/web/login", timeout=30) as answer:  # noqa: S310
            self.assertEqual(answer.status, 200)
        # The configuration file holds the passwords, mode 600; no command line does.
        self.assertEqual(stat.S_IMODE(os.stat(instance.config_path).st_mode), 0o600)
        with open(instance.config_path, encoding="utf-8") as conf:
            self.assertIn("admin_passwd = e2e-Admin-pass", conf.read())
        for exec_run in self.env["devops.exec"].search([("workspace_id", "=", workspace.id)]):
            self.assertNotIn("e2e-Admin-pass", exec_run.argv + (exec_run.env_vars or ""))
        # The admin user logs in with the password given.
        uid = xmlrpc_login(instance.url, database, "admin", "e2e-Admin-pass")
        self.assertTrue(uid)
        # The instance works with the app's own tools, unchanged.
        self.assertIn("--http-port", instance.start_command)
        self.assertEqual(instance.health_url, f"{instance.url}/web/health")
        self.assertEqual(instance.build_id.venv_path, sys.prefix)
        return instance


def xmlrpc_login(url, database, login, password):
    import xmlrpc.client  # noqa: PLC0415 - only here

    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    return common.authenticate(database, login, password, {})


def stop_instance(instance):
    """Stop what the test started, even when it failed half-way (by its pid file)."""
    pid_file, _log = instance._paths()
    try:
        with open(pid_file, encoding="ascii") as handle:
            pid = int(handle.read().strip())
        os.killpg(pid, 9)
    except (OSError, ValueError) as error:
        _logger.info("Nothing to stop for %s: %s", instance.name, error)


def drop_database(name):
    """Drop the database a test made (its instance was stopped just before)."""
    connection = sql_db.db_connect("postgres")
    with connection.cursor() as odoo_cr:
        odoo_cr._cnx.autocommit = True
        cr = odoo_cr._cnx.cursor()  # psycopg2's own: a retried DROP logs no "bad query"
        for _attempt in range(50):
            cr.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
                [name],
            )
            try:
                cr.execute(f'DROP DATABASE IF EXISTS "{name}"')  # a name this test made
                return
            except psycopg2.errors.ObjectInUse:
                time.sleep(0.1)


@tagged("post_install", "-at_install")
class TestNewInstance(NewInstanceMixin, CodeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bare_odoo = cls.make_odoo_remote()

    def test_new_odoo_instance_on_this_machine(self):
        instance = self.new_instance(self.local_machine, {"db_same": True})
        self.assertEqual(instance.db_host, config.get("db_host") or False)
        # Update works on it unchanged: a new commit in the addons repository (a sub-folder
        # of the workspace) is pulled, its module updated, the instance restarted, healthy.
        git(self.work_b, "switch", "--quiet", "main")
        write(os.path.join(self.work_b, "devops_demo_b/models.py"), "# a change\n")
        git(self.work_b, "add", "--all")
        git(self.work_b, "commit", "--quiet", "-m", "change b")
        git(self.work_b, "push", "--quiet", self.bare_b, "main")
        run = self.env["devops.pipeline.run"].browse(instance.update_code(health_wait=120))
        self.run_all(timeout=300)
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(run._data()["modules"], ["devops_demo_b"])
        checkout = run.step_ids.filtered(lambda s: s.action == "git_checkout")
        self.assertIn("extra", checkout.message)
        extra = instance.workspace_id.repo_ids.filtered(lambda r: r.folder == "extra")
        self.assertEqual(extra.commit, git(self.work_b, "rev-parse", "HEAD"))
        self.assertEqual(instance.state, "running")

    def test_only_managers_create_instances(self):
        workspace = self.new_workspace("Not mine")
        with self.assertRaises(AccessError):
            self.env["devops.instance.new.wizard"].with_user(self.devops_user).create(
                {"workspace_id": workspace.id, "name": "x", "database": "x", "port": 8999}
            )
        # Nor through the pipeline itself: its configuration step refuses anyone else.
        workspace.sudo().odoo_path = odoo_src()
        instance = self.env["devops.instance"].create(
            {"name": "Not mine", "workspace_id": workspace.id, "port": 8998, "database": "x"}
        )
        pipeline = self.env.ref("erplibre_devops.pipeline_new_odoo").with_user(self.devops_user)
        run = self.env["devops.pipeline.run"].browse(pipeline.launch(instance.id))
        self.run_all()
        self.assertEqual(run.state, "failed")
        self.assertIn("Only a DevOps manager", run.message)
        self.assertFalse(os.path.exists(instance._odoo_config_path()))


@tagged("post_install", "-at_install")
class TestNewInstanceSSH(NewInstanceMixin, SSHCase, CodeCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bare_odoo = cls.make_odoo_remote()

    def test_new_odoo_instance_over_ssh(self):
        self.trust_ssh_machine()
        self.new_instance(
            self.ssh_machine,
            {
                "db_same": False,
                "db_host": config.get("db_host") or False,
                "db_port": int(config.get("db_port") or 0),
                "db_user": config.get("db_user") or False,
                "db_password": config.get("db_password") or False,
            },
        )
