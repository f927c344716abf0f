import contextlib
import os
import shlex
import signal
import subprocess

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged

from odoo.addons.erplibre_devops.engine.testing import free_port, write_health_server

from .common import RunnerCase, SSHCase

IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


class GitMixin:
    """Real git repositories made by the tests: a bare remote and clones of it."""

    @classmethod
    def git(cls, *args, cwd=None):
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env={**os.environ, **IDENTITY},
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    @classmethod
    def make_repos(cls, base):
        remote, clone = os.path.join(base, "remote.git"), os.path.join(base, "clone")
        cls.git("init", "-q", "--bare", "-b", "main", remote)
        cls.git("clone", "-q", remote, clone)
        with open(os.path.join(clone, "app.py"), "w", encoding="utf-8") as app:
            app.write("print('hello')\n# TODO: say more\n")
        cls.git("add", "app.py", cwd=clone)
        cls.git("commit", "-q", "-m", "first", cwd=clone)
        cls.git("push", "-q", "-u", "origin", "main", cwd=clone)
        return remote, clone

    def write_file(self, path, text):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def lines_of(self, form):
        """{path: state} of the files a Form of the code wizard shows."""
        found = {}
        for index in range(len(form.file_ids)):
            with form.file_ids.edit(index) as line:
                found[line.path] = line.state
        return found

    def check_code_workflow(self, machine):
        base = self.make_tempdir()
        remote, clone = self.make_repos(base)
        self.git("config", "user.name", "Grace Hopper", cwd=clone)
        self.git("config", "user.email", "grace@example.com", cwd=clone)
        workspace = self.make_workspace(name=f"Repo {base}", path=clone, machine=machine)
        # Saved: its git summary is read at once, as the Workspaces list shows it.
        self.assertEqual((workspace.git_branch, workspace.git_error), ("main", False))
        self.assertTrue(workspace.git_last_commit.endswith("first"))
        self.assertEqual(workspace.git_changes, "clean")
        status = workspace.git_status()
        self.assertEqual(
            {k: status[k] for k in ("branch", "upstream", "ahead", "behind", "changed")},
            {"branch": "main", "upstream": "origin/main", "ahead": 0, "behind": 0, "changed": []},
        )
        self.assertEqual(status["last_commit"]["subject"], "first")
        self.assertEqual(workspace.git_branch, "main")
        self.assertFalse(workspace.git_dirty)
        run = self.Exec.search([("workspace_id", "=", workspace.id)], limit=1)
        self.assertEqual((run.stage_id.code, run.state), ("code", "done"))
        # Changes, with a hostile file name and HTML in a file, seen by the wizard.
        self.write_file(
            os.path.join(clone, "app.py"), "print('changed')\n# <b>bold</b> & <script>x</script>\n"
        )
        hostile = "x; $(touch PWNED) `id` & | .py"
        self.write_file(os.path.join(clone, hostile), "y = '<i>new</i>'\n")
        magic = ":(top)x.py"  # a pathspec magic word for git, unless read literally
        self.write_file(os.path.join(clone, magic), "z = 1\n")
        # As the Code menu opens it: choosing the workspace loads it at once (onchange).
        form = Form(self.env["devops.code.wizard"])
        form.workspace_id = workspace
        self.assertEqual(form.branch, "main")
        self.assertEqual(
            self.lines_of(form), {"app.py": "changed", hostile: "untracked", magic: "untracked"}
        )
        # The author is the repository's own git identity.
        self.assertEqual(form.author, "Grace Hopper <grace@example.com>")
        self.assertIn("git config", form.author_note)
        self.assertIn("first", form.log)
        wizard = form.save()  # what the dialog sends when a button is clicked
        self.assertTrue(workspace.git_dirty)
        self.assertEqual(workspace.git_changes, "uncommitted changes")
        files = {f.path: f.state for f in wizard.file_ids}
        self.assertEqual(files, {"app.py": "changed", hostile: "untracked", magic: "untracked"})
        # A coloured diff per file, every line escaped.
        wizard.file_ids.filtered(lambda f: f.path == "app.py").action_diff()
        self.assertIn("+print('changed')", wizard.diff)
        html = wizard.diff_html
        self.assertIn("o_devops_diff_del", html)
        self.assertIn('<div class="o_devops_diff_add">+# &lt;b&gt;bold&lt;/b&gt; &amp; ', html)
        self.assertIn("&lt;script&gt;x&lt;/script&gt;", html)
        self.assertNotIn("<b>bold", html)
        self.assertNotIn("<script>", html)
        self.assertIn("<code>app.py</code>", html)
        # A file git does not track yet: its content, as the diff that would add it.
        wizard.file_ids.filtered(lambda f: f.path == hostile).action_diff()
        self.assertIn("<div class=\"o_devops_diff_add\">+y = '&lt;i&gt;new&lt;/i&gt;'</div>",
                      wizard.diff_html)  # fmt: skip
        self.assertEqual(wizard.diff_title, hostile)
        # A commit that fails (a hook refuses it) keeps the message and the selection.
        hook = os.path.join(clone, ".git", "hooks", "pre-commit")
        self.write_file(hook, "#!/bin/sh\necho 'the hook says no' >&2\nexit 1\n")
        os.chmod(hook, 0o700)
        wizard.file_ids.filtered(lambda f: f.path != magic).selected = True
        wizard.message = "Change $(touch PWNED); `id`"
        wizard.action_commit()
        self.assertIn("text-danger", wizard.last_result)
        self.assertIn("the hook says no", wizard.last_result)
        self.assertEqual(wizard.message, "Change $(touch PWNED); `id`")
        self.assertEqual(
            set(wizard.file_ids.filtered("selected").mapped("path")), {"app.py", hostile}
        )
        self.assertTrue(wizard.diff)
        # Commit the selected files, with a hostile message, as the repository's identity;
        # then the dialog starts afresh.
        os.unlink(hook)
        wizard.action_commit()
        self.assertIn("text-success", wizard.last_result)
        self.assertFalse(wizard.message)
        self.assertFalse(wizard.diff)
        self.assertEqual(wizard.file_ids.mapped("path"), [magic])
        self.assertFalse(wizard.file_ids.selected)
        self.assertEqual(wizard.ahead, 1)
        self.assertIn("Change $(touch PWNED); `id`", wizard.log)
        wizard.action_push()
        self.assertEqual(wizard.ahead, 0)
        self.assertIn("Change $(touch PWNED)", self.git("log", "-1", "--format=%s", cwd=remote))
        self.assertEqual(
            self.git("log", "-1", "--format=%an <%ae>", cwd=remote).strip(),
            "Grace Hopper <grace@example.com>",
        )
        self.assertFalse(os.path.exists(os.path.join(clone, "PWNED")))
        os.unlink(os.path.join(clone, magic))
        # Branches, a hostile (but valid) name as data.
        wizard.new_branch = "fix;$(touch${IFS}PWNED)"
        wizard.action_create_branch()
        self.assertEqual(wizard.branch, "fix;$(touch${IFS}PWNED)")
        wizard.new_branch = "main"
        wizard.action_switch_branch()
        self.assertEqual(wizard.branch, "main")
        wizard.new_branch = "--orphan=x"
        with self.assertRaises(UserError):
            wizard.action_create_branch()
        # Pull: fast-forward works; a diverged branch is refused with a clear message.
        other = os.path.join(base, "other")
        self.git("clone", "-q", remote, other)
        self.write_file(os.path.join(other, "app.py"), "print('theirs')\n")
        self.git("commit", "-q", "-am", "theirs", cwd=other)
        self.git("push", "-q", cwd=other)
        wizard.action_pull()
        self.assertIn("text-success", wizard.last_result)
        self.assertIn("theirs", self.git("log", "-1", "--format=%s", cwd=clone))
        self.write_file(os.path.join(other, "app.py"), "print('theirs again')\n")
        self.git("commit", "-q", "-am", "theirs again", cwd=other)
        self.git("push", "-q", cwd=other)
        self.write_file(os.path.join(clone, "app.py"), "print('mine')\n")
        wizard.action_refresh()
        wizard.file_ids.selected = True
        wizard.message = "mine"
        wizard.author = "Ada Lovelace <ada@example.com>"  # another author than the default
        wizard.action_commit()
        self.assertEqual(self.git("log", "-1", "--format=%an", cwd=clone).strip(), "Ada Lovelace")
        wizard.action_pull()
        self.assertIn("text-danger", wizard.last_result)
        self.assertIn("diverged", wizard.last_result)
        # TODO scan with blame.
        self.write_file(os.path.join(clone, "todo.py"), "x = 1\n# TODO: say more\n")
        self.git("add", "todo.py", cwd=clone)
        self.git("commit", "-q", "-m", "todo", cwd=clone)
        workspace.action_scan_todo()
        (todo,) = workspace.todo_ids
        self.assertEqual(
            (todo.file, todo.line, todo.kind, todo.text), ("todo.py", 2, "TODO", "say more")
        )
        self.assertEqual(todo.author, "Ada")
        self.assertTrue(todo.date)
        self.write_file(os.path.join(clone, "more.py"), "# FIXME: later\n")
        self.git("add", "more.py", cwd=clone)
        self.git("commit", "-q", "-m", "more", cwd=clone)
        workspace.action_scan_todo()
        self.assertEqual(sorted(workspace.todo_ids.mapped("kind")), ["FIXME", "TODO"])
        # A file name with a newline is one file, not two misread lines.
        odd = "odd\nname.py"
        self.write_file(os.path.join(clone, odd), "# XXX: odd one\n")
        self.git("add", odd, cwd=clone)
        self.git("commit", "-q", "-m", "odd", cwd=clone)
        workspace.action_scan_todo()
        (found,) = workspace.todo_ids.filtered(lambda t: t.kind == "XXX")
        self.assertEqual((found.file, found.line, found.text), (odd, 1, "odd one"))
        self.assertEqual(len(workspace.todo_ids), 3)
        return workspace

    def check_identity_fallback(self, machine):
        """A repository without a git identity: the Odoo user is the author, and commits."""
        _remote, clone = self.make_repos(self.make_tempdir())
        self.git("config", "user.name", "", cwd=clone)  # over any global identity
        self.git("config", "user.email", "", cwd=clone)
        workspace = self.make_workspace(name=f"No identity {clone}", path=clone, machine=machine)
        self.write_file(os.path.join(clone, "new.py"), "n = 1\n")
        wizard = self.env["devops.code.wizard"].browse(
            workspace.action_open_code_wizard()["res_id"]
        )
        odoo_user = self.env["devops.code.wizard"]._odoo_author()
        self.assertEqual(wizard.author, odoo_user)
        self.assertIn("no git identity", wizard.author_note)
        wizard.file_ids.selected = True
        wizard.message = "As the Odoo user"
        wizard.action_commit()
        self.assertIn("text-success", wizard.last_result)
        shown = self.git("log", "-1", "--format=%an <%ae>|%cn <%ce>", cwd=clone).strip()
        self.assertEqual(shown, f"{odoo_user}|{odoo_user}")

    def check_workspace_save_warnings(self, machine):
        """A workspace saves whatever its path holds; what is wrong shows as a warning."""
        base = self.make_tempdir()
        Workspace = self.env["devops.workspace"].with_user(self.devops_manager)
        missing = Workspace.create(
            {"name": f"Missing {base}", "path": f"{base}/nowhere", "machine_id": machine.id}
        )
        self.assertIn("does not exist", missing.git_error)
        self.assertEqual((missing.git_branch, missing.git_changes), (False, "git problem"))
        plain = Workspace.create({"name": f"Plain {base}", "path": base, "machine_id": machine.id})
        self.assertIn("is not a git repository", plain.git_error)
        _remote, clone = self.make_repos(base)
        plain.path = clone
        self.assertEqual((plain.git_error, plain.git_branch), (False, "main"))
        self.assertEqual(plain.git_changes, "clean")
        plain.path = os.path.join(clone, "app.py")
        self.assertIn("is a file", plain.git_error)
        self.assertFalse(plain.git_branch)
        self.assertFalse(self.Exec.search([("workspace_id", "in", (missing | plain).ids)]))


@tagged("post_install", "-at_install")
class TestCode(GitMixin, RunnerCase):
    def test_code_workflow_local(self):
        self.check_code_workflow(self.local_machine)

    def test_identity_fallback(self):
        self.check_identity_fallback(self.local_machine)

    def test_workspace_save_warnings(self):
        self.check_workspace_save_warnings(self.local_machine)

    def test_not_a_repository(self):
        workspace = self.make_workspace(name="Plain", path=self.make_tempdir())
        with self.assertRaises(UserError) as caught:
            workspace.git_status()
        self.assertIn("not a git repository", str(caught.exception))
        result = workspace.action_refresh_git()
        self.assertEqual(result["params"]["type"], "danger")
        self.assertIn("not a git repository", workspace.git_error)

    def test_diff_reads_only_what_git_lists(self):
        """The lines' path and state come from the client: a forged line never reads a file
        git does not list as untracked (.git/config, .devops/), nor lands in another user's
        dialog."""
        base = self.make_tempdir()
        _remote, clone = self.make_repos(base)
        self.git("config", "remote.origin.url", "https://user:TOKEN@example.com/x.git", cwd=clone)
        self.write_file(os.path.join(clone, "new.py"), "print('new')\n")
        workspace = self.make_workspace(name="Forged", path=clone)
        Wizard = self.env["devops.code.wizard"].with_user(self.devops_user)
        wizard = Wizard.create({"workspace_id": workspace.id})
        Line = self.env["devops.code.wizard.file"].with_user(self.devops_user)
        for path in (".git/config", ".devops/instance-1.log", "app.py"):
            line = Line.create({"wizard_id": wizard.id, "path": path, "state": "untracked"})
            with self.assertRaises(UserError):
                line.action_diff()
        self.assertNotIn("TOKEN", wizard.diff or "")
        good = Line.create({"wizard_id": wizard.id, "path": "new.py", "state": "untracked"})
        good.action_diff()
        self.assertIn("+print('new')", wizard.diff)
        other = new_test_user(
            self.env, login="devops_other_coder", groups="erplibre_devops.group_devops_user"
        )
        with self.assertRaises(AccessError):
            Line.with_user(other).create({"wizard_id": wizard.id, "path": "x", "state": "changed"})

    def test_monitor_cron_refreshes_git(self):
        base = self.make_tempdir()
        _remote, clone = self.make_repos(base)
        workspace = self.make_workspace(name="Refreshed", path=clone)
        self.env["devops.instance"]._cron_monitor()
        self.assertEqual(workspace.git_branch, "main")
        self.assertTrue(workspace.git_last_commit.endswith("first"))


@tagged("post_install", "-at_install")
class TestCodeSSH(GitMixin, SSHCase):
    def test_code_workflow_over_ssh(self):
        self.trust_ssh_machine()
        workspace = self.check_code_workflow(self.ssh_machine)
        self.assertEqual(workspace.machine_id, self.ssh_machine)

    def test_identity_fallback_over_ssh(self):
        self.trust_ssh_machine()
        self.check_identity_fallback(self.ssh_machine)

    def test_workspace_save_warnings_over_ssh(self):
        untrusted = self.make_workspace(name="Untrusted", path=self.tmp, machine=self.ssh_machine)
        self.assertIn("accept its host key first", untrusted.git_error)
        self.trust_ssh_machine()
        self.check_workspace_save_warnings(self.ssh_machine)


class DebugMixin(GitMixin):
    SCRIPT = {
        "app/main.py": "import lib\n\nlib.compute()\n",
        "app/lib.py": (
            "import extlib\n\n\ndef compute():\n"
            "    total = 10\n    return extlib.divide(total, 0)\n"
        ),
    }

    def check_debug(self, machine):
        """A traceback through the workspace's code into a library outside it, and one of a
        file not committed yet: every frame, the user's own first, each with its source and
        its blame or why there is none."""
        base = self.make_tempdir()
        _remote, clone = self.make_repos(base)
        os.makedirs(os.path.join(clone, "app"))
        for path, text in self.SCRIPT.items():
            self.write_file(os.path.join(clone, path), text)
        self.git("add", "app", cwd=clone)
        self.git("commit", "-q", "-m", "the bug", cwd=clone)
        outside = os.path.join(base, "outside")
        os.makedirs(outside)
        extlib = os.path.join(outside, "extlib.py")
        self.write_file(extlib, "def divide(a, b):\n    return a / b\n")
        fresh = os.path.join(clone, "app", "fresh.py")
        self.write_file(fresh, "raise ValueError('fresh <b>bold</b> & <script>')\n")
        main, lib = os.path.join(clone, "app", "main.py"), os.path.join(clone, "app", "lib.py")
        workspace = self.make_workspace(name=f"Debug {base}", path=clone, machine=machine)
        command = f"cd app && PYTHONPATH={shlex.quote(outside)} python3 main.py; python3 fresh.py"
        wizard = self.env["devops.debug.wizard"].create(
            {"workspace_id": workspace.id, "command": command}
        )
        wizard.action_run()
        self.run_all()
        self.assertEqual(wizard.state, "failed")
        self.assertEqual(wizard.exec_id.stage_id.code, "code")
        wizard.action_analyze()
        first = wizard.frame_ids.filtered(lambda f: f.error_index == 0)
        # The user's own frame first, then the others, most recent call first.
        self.assertEqual([(f.file, f.line) for f in first], [(lib, 6), (extlib, 2), (main, 3)])
        own, library, caller = first
        self.assertEqual(first.mapped("user_frame"), [True, False, False])
        self.assertEqual(first.mapped("in_workspace"), [True, False, True])
        self.assertEqual(own.message, "ZeroDivisionError: division by zero")
        self.assertEqual(own.function, "compute")
        self.assertIn("▶     6      return extlib.divide(total, 0)", own.excerpt)
        self.assertIn("      5      total = 10", own.excerpt)
        self.assertTrue(own.blame.startswith("Ada <ada@example.com>"))
        self.assertIn("the bug", own.blame)
        self.assertFalse(own.blame_note)
        # Outside the workspace: its source (this user may read there), never a blame.
        self.assertIn("▶     2      return a / b", library.excerpt)
        self.assertFalse(library.blame)
        self.assertIn("outside the workspace", library.blame_note)
        self.assertTrue(caller.blame.startswith("Ada"))
        (uncommitted,) = wizard.frame_ids.filtered(lambda f: f.error_index == 1)
        self.assertEqual((uncommitted.file, uncommitted.line), (fresh, 1))
        self.assertTrue(uncommitted.user_frame)
        self.assertIn("not committed", uncommitted.blame_note)
        # As shown: the user's frame open, the others folded (openable), all escaped.
        html = wizard.frames_html
        self.assertEqual(html.count("<details"), 4)
        self.assertEqual(html.count('open="open"'), 2)
        self.assertLess(html.index(lib), html.index(extlib))
        self.assertLess(html.index(extlib), html.index(main))
        self.assertIn("fresh &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;", html)
        self.assertNotIn("<b>bold", html)
        self.assertIn("outside the workspace", html)
        run = wizard.exec_id
        wizard.action_run_again()
        self.assertNotEqual(wizard.exec_id, run)
        self.assertFalse(wizard.frame_ids)
        self.run_all()
        self.assertEqual(wizard.state, "failed")
        # The same from the run's own Debug button, and over RPC (the error's own location
        # as before, and every frame).
        action = run.action_debug()
        frames = self.env["devops.debug.wizard"].browse(action["res_id"]).frame_ids
        self.assertEqual(frames[0].line, 6)
        context = run.source_context()
        self.assertEqual((context[0]["file"], context[0]["line"]), (extlib, 2))
        self.assertEqual(context[0]["blame"], None)
        self.assertIn("outside the workspace", context[0]["blame_note"])
        user = context[0]["frames"][context[0]["user_frame"]]
        self.assertEqual((user["file"], user["line"], user["blame"]["author"]), (lib, 6, "Ada"))
        self.assertEqual([f["line"] for f in context[0]["frames"]], [3, 6, 2])

    def check_debug_without_git(self, machine):
        """Blame says why it is empty: not a git repository, a file that cannot be read."""
        base = self.make_tempdir()
        self.write_file(os.path.join(base, "boom.py"), "x = 1\nraise SystemExit(1 / (x - 1))\n")
        gone = os.path.join(base, "gone.py")
        self.write_file(gone, "raise KeyError('gone')\n")
        workspace = self.make_workspace(name=f"Plain {base}", path=base, machine=machine)
        self.assertIn("not a git repository", workspace.git_error)
        run = self.Exec.browse(workspace.debug_command("python3 boom.py; python3 gone.py"))
        self.run_all()
        os.unlink(gone)
        wizard = self.env["devops.debug.wizard"].browse(run.action_debug()["res_id"])
        boom, lost = wizard.frame_ids
        self.assertIn("1 / (x - 1)", boom.excerpt)
        self.assertIn("not a git repository", boom.blame_note)
        self.assertEqual(lost.file, gone)
        self.assertIn("missing", lost.source_note)
        self.assertIn("cannot be read", lost.blame_note)


@tagged("post_install", "-at_install")
class TestDebug(DebugMixin, RunnerCase):
    def test_debug_local(self):
        self.check_debug(self.local_machine)

    def test_debug_without_git(self):
        self.check_debug_without_git(self.local_machine)

    def test_debug_instance_requires_a_process(self):
        workspace = self.make_workspace(name="Dbg", path=self.make_tempdir())
        docker = self.env["devops.instance"].create(
            {"name": "Dock", "workspace_id": workspace.id, "kind": "docker", "image": "x:1"}
        )
        with self.assertRaises(UserError):
            docker.debug_start()
        odoo = self.env["devops.instance"].create(
            {
                "name": "Odoo debug",
                "workspace_id": workspace.id,
                "start_command": "echo odoo --http-port {port} -d {database}",
                "database": "db1",
            }
        )
        run = self.Exec.browse(odoo.debug_start(test_tags="/my_module"))
        self.run_all()
        self.assertEqual(
            run.output,
            f"odoo --http-port {odoo.port} -d db1 --dev=all --log-level=debug --test-enable "
            "--test-tags /my_module --stop-after-init\n",
        )


@tagged("post_install", "-at_install")
class TestDebugSSH(DebugMixin, SSHCase):
    def test_debug_over_ssh(self):
        self.trust_ssh_machine()
        self.check_debug(self.ssh_machine)

    def test_debug_without_git_over_ssh(self):
        self.trust_ssh_machine()
        self.check_debug_without_git(self.ssh_machine)


class UpdateMixin(GitMixin):
    """An instance of the tests' HTTP service, run from a git checkout, updated for real."""

    def machine(self):
        return self.local_machine

    def setUp(self):
        super().setUp()
        base = self.make_tempdir()
        self.remote, self.clone = self.make_repos(base)
        write_health_server(self.clone)
        self.write_file(os.path.join(self.clone, "requirements.txt"), "# none\n")
        self.git("add", ".", cwd=self.clone)
        self.git("commit", "-q", "-m", "service", cwd=self.clone)
        self.git("push", "-q", cwd=self.clone)
        self.other = os.path.join(base, "other")
        self.git("clone", "-q", self.remote, self.other)
        workspace = self.make_workspace(name=f"Upd {base}", path=self.clone, machine=self.machine())
        self.instance = self.env["devops.instance"].create(
            {
                "name": f"Updated {base}",
                "workspace_id": workspace.id,
                "port": free_port(),
                "start_command": "python3 -u health_server.py {port}",
                "restart_backoff": 0,
                "auto_restart": False,
            }
        )
        self.addCleanup(self._kill, self.instance._paths()[0])
        self.instance.action_start()
        self.run_all()
        self.instance._operate()
        self.assertEqual(self.instance.state, "running")

    @staticmethod
    def _kill(pid_file):
        with contextlib.suppress(OSError, ValueError):
            with open(pid_file, encoding="ascii") as pids:
                os.killpg(int(pids.read()), signal.SIGKILL)

    def push_from_other(self, path, text, message):
        self.write_file(os.path.join(self.other, path), text)
        self.git("add", path, cwd=self.other)
        self.git("commit", "-q", "-m", message, cwd=self.other)
        self.git("push", "-q", cwd=self.other)
        return self.git("rev-parse", "HEAD", cwd=self.other).strip()

    def head(self):
        return self.git("rev-parse", "HEAD", cwd=self.clone).strip()

    def update(self, instance=None, **params):
        """A pipeline run of "Update" on the instance (update_code)."""
        instance = instance or self.instance
        return self.env["devops.pipeline.run"].browse(instance.update_code(**params))

    @staticmethod
    def step(run, action, rollback=False):
        return run.step_ids.filtered(lambda s: s.action == action and s.rollback == rollback)

    def check_update_pull_pip_modules_restart_health(self):
        os.makedirs(os.path.join(self.other, "my_module"))
        self.push_from_other("my_module/__manifest__.py", "{}\n", "manifest")
        self.push_from_other("my_module/models.py", "x = 1\n", "module")
        # A folder whose name is a shell command is no module name: never reaches the shell.
        hostile = "x;touch PWNED"
        os.makedirs(os.path.join(self.other, hostile))
        self.push_from_other(f"{hostile}/__manifest__.py", "{}\n", "hostile manifest")
        self.push_from_other(f"{hostile}/models.py", "y = 1\n", "hostile module")
        new = self.push_from_other("requirements.txt", "# still none\n", "requirements")
        old = self.head()
        run = self.update(
            pip_command="echo pip was run",
            update_command="echo updating {modules}",
            health_wait=20,
        )
        self.assertEqual(run.pipeline_id, self.env.ref("erplibre_devops.pipeline_update"))
        self.run_all()
        self.assertEqual(run.state, "done", run.message)
        data = run._data()
        self.assertEqual((data["old_commit"], data["new_commit"]), (old, new))
        self.assertEqual(self.head(), new)
        self.assertEqual(data["modules"], ["my_module"])
        main = run.step_ids.filtered(lambda s: not s.rollback)
        self.assertEqual(
            main.mapped("action"),
            ["git_checkout", "pip_install", "odoo_update", "restart", "wait_healthy"],
        )
        self.assertEqual(set(main.mapped("state")), {"done"})
        self.assertEqual(set(run.step_ids.filtered("rollback").mapped("state")), {"skipped"})
        execs = main.exec_id
        self.assertEqual(len(execs), 4)  # waiting for health runs no command
        self.assertEqual(set(execs.mapped("stage_id.code")), {"deploy"})
        self.assertEqual(self.step(run, "pip_install").exec_id.output, "pip was run\n")
        self.assertEqual(self.step(run, "odoo_update").exec_id.output, "updating my_module\n")
        self.assertFalse(os.path.exists(os.path.join(self.clone, "PWNED")))
        self.assertEqual(self.instance.state, "running")
        self.assertFalse(run.lock_key)  # the instance is free for the next one

    def check_failed_health_rolls_back(self):
        old = self.head()
        broken = "import sys\nsys.exit('broken on purpose')\n"
        self.push_from_other("health_server.py", broken, "break it")
        run = self.update(update_command="", health_wait=3)
        self.run_all()
        self.assertEqual(run.state, "rolled_back", run.message)
        self.assertEqual(run.failed_step_id.action, "restart")
        self.assertEqual(self.head(), old)
        self.assertIn("Rolled back", run.message)
        self.assertEqual(run.step_ids.filtered("rollback").mapped("state"), ["done", "done"])
        self.assertEqual(self.step(run, "wait_healthy").state, "skipped")
        self.instance._operate()
        self.assertEqual(self.instance.state, "running")

    def check_failed_step_says_which(self):
        run = self.update(ref="no-such-branch")
        self.run_all()
        self.assertEqual((run.state, run.failed_step_id.action), ("failed", "git_checkout"))
        self.assertIn("no-such-branch", run.message)
        with self.assertRaises(UserError):
            self.update(ref="--upload-pack=touch /tmp/PWNED")
        with self.assertRaises(UserError):
            self.update(modules="sale;touch /tmp/PWNED")
        self.assertEqual(self.instance.state, "running")
        # A path is no revision, and uncommitted work is never thrown away.
        self.write_file(os.path.join(self.clone, "app.py"), "print('work in progress')\n")
        for ref in ("app.py", None):
            run = self.update(ref=ref)
            self.run_all()
            self.assertEqual((run.state, run.failed_step_id.action), ("failed", "git_checkout"))
            self.assertIn("uncommitted changes", run.message)
        with open(os.path.join(self.clone, "app.py"), encoding="utf-8") as handle:
            self.assertEqual(handle.read(), "print('work in progress')\n")

    def check_rollback_by_its_user(self):
        """A DevOps user (no manager) updates an instance, then rolls it back."""
        old = self.head()
        new = self.push_from_other("notes.txt", "hello\n", "notes")
        run = self.update(instance=self.instance.with_user(self.devops_user), update_command="")
        self.assertEqual(run.user_id, self.devops_user)
        self.run_all()
        self.assertEqual(run.state, "done", run.message)
        self.assertEqual(self.head(), new)
        run.with_user(self.devops_user).action_rollback()
        self.run_all()
        self.assertEqual(run.state, "rolled_back", run.message)
        self.assertEqual(self.head(), old)
        # Another DevOps user neither sees it nor rolls it back; a manager sees it.
        other = new_test_user(
            self.env, login="devops_other", groups="erplibre_devops.group_devops_user"
        )
        Run = self.env["devops.pipeline.run"]
        self.assertFalse(Run.with_user(other).search([]))
        with self.assertRaises(AccessError):
            run.with_user(other).action_rollback()
        self.assertIn(run, Run.with_user(self.devops_manager).search([]))
        # The instance's state folder never shows as a change of the checkout.
        status = self.instance.workspace_id.git_status()
        self.assertFalse([p for p in status["untracked"] if ".devops" in p], status)

    def _wizard_update(self):
        self.push_from_other("notes.txt", "hello\n", "notes")
        wizard = self.env["devops.update.wizard"].create({"instance_id": self.instance.id})
        self.assertEqual(
            wizard.update_command,
            f"python3 -u health_server.py {self.instance.port} -u {{modules}} --stop-after-init",
        )
        action = wizard.action_run()
        self.run_all()
        run = self.env["devops.pipeline.run"].browse(action["res_id"])
        self.assertEqual(run.state, "done", run.message)


@tagged("post_install", "-at_install")
class TestUpdate(UpdateMixin, RunnerCase):
    # Odoo's loader runs the test methods a class defines itself, not a mixin's.
    def test_update_pull_pip_modules_restart_health(self):
        self.check_update_pull_pip_modules_restart_health()

    def test_failed_health_rolls_back(self):
        self.check_failed_health_rolls_back()

    def test_failed_step_says_which(self):
        self.check_failed_step_says_which()

    def test_update_wizard(self):
        self._wizard_update()

    def test_rollback_by_its_user(self):
        self.check_rollback_by_its_user()

    def test_interrupted_step_fails_the_update(self):
        """A step's command lost (its job gone from the machine): the run fails with that
        reason, never hangs."""
        run = self.update(update_command="")
        checkout = self.step(run, "git_checkout").exec_id
        self.env.cr.execute("UPDATE devops_exec SET state = 'running' WHERE id = %s", [checkout.id])
        self.run_all()
        self.assertEqual(checkout.state, "interrupted")
        self.assertEqual((run.state, run.failed_step_id.action), ("failed", "git_checkout"))
        self.assertIn("job is gone", run.message)


@tagged("post_install", "-at_install")
class TestUpdateSSH(UpdateMixin, SSHCase):
    """The same updates on a workspace reached over the test sshd."""

    def machine(self):
        if not self.ssh_machine.host_key:
            self.trust_ssh_machine()
        return self.ssh_machine

    def test_update_pull_pip_modules_restart_health(self):
        self.check_update_pull_pip_modules_restart_health()

    def test_failed_health_rolls_back(self):
        self.check_failed_health_rolls_back()

    def test_update_wizard_over_ssh(self):
        self._wizard_update()

    def test_rollback_by_its_user(self):
        self.check_rollback_by_its_user()
