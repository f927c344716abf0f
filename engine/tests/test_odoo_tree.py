# pylint: disable=redefined-outer-name
# (pytest fixtures are passed by the name of the function that makes them)
import ast
import json
import os
import subprocess
import sys

import pytest

from engine import odoo_tree, ssh
from engine.local import LocalExecutor
from engine.odoo_tree import ScanError
from engine.output import STDOUT, Capture

ODOO_SRC = os.environ.get("ODOO_SRC") or "/opt/odoo/18.0"
RELEASE = """\
RELEASE_LEVELS = [ALPHA, BETA, RELEASE_CANDIDATE, FINAL] = ['alpha', 'beta', 'candidate', 'final']
version_info = (18, 0, 0, FINAL, 0)
version = '.'.join(str(s) for s in version_info[:2])
serie = major_version = '18.0'
raise SystemExit('release.py must never be executed by the scan')
"""


def write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def manifest(folder, name="__manifest__.py", **values):
    return write(folder / name, repr({"name": folder.name, **values}) + "\n")


@pytest.fixture
def workspace(tmp_path):
    """A workspace with an Odoo tree, an addons repository and every trap the scan skips.
    Its name holds shell syntax: the scan must treat it as data."""
    ws = tmp_path / "ws $(touch PWNED); `id`"
    odoo = ws / "odoo18"
    write(odoo / "odoo-bin", "#!/usr/bin/env python3\n")
    write(odoo / "odoo" / "release.py", RELEASE)
    manifest(odoo / "odoo" / "addons" / "base", version="18.0.1.3", depends=[], auto_install=True)
    manifest(odoo / "addons" / "web", depends=["base"], auto_install=True, license="LGPL-3")
    manifest(odoo / "addons" / "web" / "tests" / "nested_mod")  # modules are never nested
    repo = ws / "repo"
    manifest(
        repo / "good",
        version="18.0.1.0.0",
        summary="A good one",
        license="AGPL-3",
        author="Someone",
        category="Tools",
        depends=["web", "sale"],
        external_dependencies={"python": ["requests", 3], "bin": ["wkhtmltopdf"]},
        application=True,
        auto_install=["web"],
    )
    write(repo / "good" / "requirements.txt", "requests\n")
    manifest(repo / "legacy", name="__openerp__.py", depends=["base"])
    write(repo / "computed" / "__manifest__.py", "{'name': 'x', 'version': '1' + VERSION}\n")
    write(repo / "syntax" / "__manifest__.py", "{'name': \n")
    write(repo / "listed" / "__manifest__.py", "['not', 'a', 'dict']\n")
    write(repo / "huge" / "__manifest__.py", "{'summary': '" + "x" * 300_000 + "'}\n")
    manifest(repo / "typed", depends="base", summary=5, installable=0, author="a" * 3000)
    manifest(repo / "mixed", depends=["base", 3, None, "web"], external_dependencies="requests")
    manifest(repo / "bad-name")
    manifest(repo / "uninstallable", installable=False)
    write(repo / ".venv" / "pyvenv.cfg", "home = /usr/bin\n")
    manifest(repo / ".venv" / "lib" / "site-packages" / "in_hidden_venv")
    write(repo / "env" / "pyvenv.cfg", "home = /usr/bin\n")
    manifest(repo / "env" / "lib" / "python3" / "site-packages" / "in_venv")
    manifest(repo / "node_modules" / "in_node_modules")
    manifest(repo / ".hidden" / "in_hidden")
    manifest(repo / "__pycache__" / "in_pycache")
    manifest(repo / ".git" / "in_git")
    (repo / "loop").symlink_to("..")  # a loop: walked once only
    (repo / "self").symlink_to(".")
    manifest(ws / ".store" / "shelf" / "stored")  # hidden, reached through a link only
    (ws / "linked").symlink_to(ws / ".store" / "shelf")
    (ws / "linked_again").symlink_to(ws / ".store" / "shelf")
    outside = tmp_path / "outside"
    manifest(outside / "out_of_root")
    (ws / "out").symlink_to(outside)
    (ws / "dangling").symlink_to(ws / "gone")
    return ws


def run_script(root):
    done = subprocess.run(
        odoo_tree.scan_argv(str(root), sys.executable), capture_output=True, text=True, timeout=60
    )
    return done


def scanned(root):
    done = run_script(root)
    assert done.returncode == 0, done.stderr
    return odoo_tree.parse_scan(done.stdout)


def by_name(scan):
    found = {}
    for module in scan["modules"]:
        assert module["name"] not in found, module
        found[module["name"]] = module
    return found


def test_scan_finds_the_odoo_tree_and_every_module(workspace):
    scan = scanned(workspace)
    ws = os.path.realpath(workspace)
    assert scan["root"] == ws
    assert scan["odoo"] == [{"path": f"{ws}/odoo18", "version": "18.0"}]
    modules = by_name(scan)
    assert sorted(modules) == [
        "base", "computed", "good", "huge", "legacy", "listed", "mixed", "stored", "syntax",
        "typed", "uninstallable", "web",
    ]  # fmt: skip
    assert modules["base"]["path"] == f"{ws}/odoo18/odoo/addons/base"
    assert modules["base"]["addons_dir"] == f"{ws}/odoo18/odoo/addons"
    assert modules["base"]["depends"] == [] and modules["base"]["version"] == "18.0.1.3"
    assert modules["web"]["depends"] == ["base"] and modules["web"]["auto_install"] is True
    assert modules["good"] == {
        "name": "good",
        "path": f"{ws}/repo/good",
        "addons_dir": f"{ws}/repo",
        "version": "18.0.1.0.0",
        "summary": "A good one",
        "license": "AGPL-3",
        "author": "Someone",
        "category": "Tools",
        "depends": ["web", "sale"],
        "external_python": ["requests"],
        "external_bin": ["wkhtmltopdf"],
        "installable": True,
        "auto_install": True,
        "application": True,
        "requirements": True,
    }
    assert modules["legacy"]["depends"] == ["base"] and modules["legacy"]["installable"]
    assert modules["uninstallable"]["installable"] is False
    assert not modules["legacy"]["auto_install"] and not modules["legacy"]["requirements"]
    # Reached through the links only, once, under the first link's path.
    assert modules["stored"]["path"] == f"{ws}/linked/stored"
    assert not (workspace / "PWNED").exists() and not os.path.exists("PWNED")


def test_scan_coerces_manifest_types(workspace):
    modules = by_name(scanned(workspace))
    typed = modules["typed"]
    assert typed["depends"] == [] and typed["summary"] == "" and typed["installable"] is False
    assert typed["author"] == "a" * 2000
    mixed = modules["mixed"]
    assert mixed["depends"] == ["base", "web"] and mixed["external_python"] == []


def test_scan_reports_bad_manifests_and_lists_them_uninstallable(workspace):
    scan = scanned(workspace)
    modules = by_name(scan)
    errors = {entry["path"]: entry["error"] for entry in scan["errors"]}
    ws = os.path.realpath(workspace)
    for name, words in (
        ("computed", "not a literal"),
        ("syntax", "not valid Python"),
        ("listed", "not a dict literal"),
        ("huge", "over 256 KB"),
    ):
        assert modules[name]["installable"] is False
        assert modules[name]["depends"] == []
        assert words in errors[f"{ws}/repo/{name}/__manifest__.py"]
    assert "not a module name" in errors[f"{ws}/repo/bad-name"]
    assert len(scan["errors"]) == 5


def test_release_file_is_read_not_executed(workspace):
    # RELEASE ends with raise SystemExit: the version comes from version_info anyway.
    assert scanned(workspace)["odoo"][0]["version"] == "18.0"
    write(workspace / "odoo18" / "odoo" / "release.py", "serie = '17.0'\n")
    assert scanned(workspace)["odoo"][0]["version"] == "17.0"
    write(workspace / "odoo18" / "odoo" / "release.py", "version_info = compute()\n")
    scan = scanned(workspace)
    assert scan["odoo"][0]["version"] == ""
    assert any("No version_info" in entry["error"] for entry in scan["errors"])


def test_scan_of_a_missing_folder_or_a_file_exits_2(tmp_path):
    done = run_script(tmp_path / "nothing here")
    assert done.returncode == 2 and "does not exist" in done.stderr and done.stdout == ""
    done = run_script(write(tmp_path / "a file"))
    assert done.returncode == 2 and "is not a folder" in done.stderr


def test_scan_of_an_empty_folder(tmp_path):
    scan = scanned(tmp_path)
    assert scan == {"root": os.path.realpath(tmp_path), "odoo": [], "modules": [], "errors": []}


def test_scan_argv_keeps_the_folder_out_of_the_script():
    argv = odoo_tree.scan_argv("/srv/$(id)")
    assert argv == ["python3", "-I", "-c", odoo_tree.SCAN_SCRIPT, "/srv/$(id)"]
    for bad in ("relative/path", "", "/a/../b", "/a\nb", None):
        with pytest.raises(ScanError):
            odoo_tree.scan_argv(bad)
    for bad in ("", "-c", "py\nthon"):
        with pytest.raises(ScanError):
            odoo_tree.scan_argv("/srv", bad)


def test_scan_script_is_python_3_8():
    ast.parse(odoo_tree.SCAN_SCRIPT, feature_version=(3, 8))
    imports = {
        alias.name
        for node in ast.walk(ast.parse(odoo_tree.SCAN_SCRIPT))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imports == {"ast", "json", "os", "re", "sys"}


def test_scan_through_the_local_executor(workspace):
    scan = odoo_tree.run_scan(LocalExecutor(), str(workspace), sys.executable)
    assert len(scan["modules"]) == 12 and scan["odoo"][0]["version"] == "18.0"
    with pytest.raises(ScanError, match="does not exist"):
        odoo_tree.run_scan(LocalExecutor(), str(workspace / "gone"), sys.executable)


def test_scan_over_ssh_matches_local(workspace, target):
    remote = odoo_tree.run_scan(ssh.SSHExecutor(target), str(workspace), sys.executable)
    assert remote == scanned(workspace)
    with pytest.raises(ScanError, match="not found"):
        odoo_tree.run_scan(ssh.SSHExecutor(target), str(workspace), "no-such-python3")


def test_output_cut_by_a_bounded_capture_is_refused():
    capture = Capture()  # what Executor.read_stdout reads with: 64 KB head, 64 KB tail
    capture.write(STDOUT, json.dumps({"root": "/w", "x": "y" * 200_000}).encode())
    with pytest.raises(ScanError, match="was cut"):
        odoo_tree.parse_scan(capture.text(STDOUT, raw=True))


def test_addons_path_order(workspace):
    scan = scanned(workspace)
    ws = os.path.realpath(workspace)
    assert odoo_tree.addons_path(scan) == [
        f"{ws}/odoo18/odoo/addons", f"{ws}/odoo18/addons", f"{ws}/linked", f"{ws}/repo",
    ]  # fmt: skip


def module(path, depends=()):
    return {"name": path.rsplit("/", 1)[1], "path": path, "depends": list(depends)}


def scan_of(modules, odoo=()):
    return odoo_tree.parse_scan(
        json.dumps({"root": "/", "odoo": list(odoo), "modules": modules, "errors": []})
    )


def test_addons_path_and_graph_with_duplicates():
    scan = scan_of(
        [
            module("/w/a_repo/sale", ["base"]),
            module("/w/odoo/addons/sale", ["base", "web"]),
            module("/w/odoo/odoo/addons/base"),
            module("/w/z_repo/extra", ["sale"]),
            module("/w/odoo/addons/web", ["base"]),
        ],
        odoo=[{"path": "/w/odoo", "version": "18.0"}],
    )
    assert len(scan["modules"]) == 5  # both sale modules kept
    assert odoo_tree.addons_path(scan) == [
        "/w/odoo/odoo/addons", "/w/odoo/addons", "/w/a_repo", "/w/z_repo",
    ]  # fmt: skip
    graph = odoo_tree.module_graph(scan)
    assert graph == {"sale": ["base", "web"], "base": [], "extra": ["sale"], "web": ["base"]}


def test_parse_scan_refuses_what_is_not_a_scan():
    for text in ("", "not json", "[1, 2]", '"text"', "{", "[" * 100_000, b"{}", None):
        with pytest.raises(ScanError):
            odoo_tree.parse_scan(text)
    for root in (None, "", "relative", "/a\nb", "/a/../b", 5, "/\ud800"):
        with pytest.raises(ScanError, match="no valid folder"):
            odoo_tree.parse_scan(json.dumps({"root": root}))
    for key in ("odoo", "modules", "errors"):
        with pytest.raises(ScanError, match=key):
            odoo_tree.parse_scan(json.dumps({"root": "/w", key: {"a": 1}}))
    assert odoo_tree.parse_scan('{"root": "/w//x/"}') == {
        "root": "/w/x", "odoo": [], "modules": [], "errors": [],
    }  # fmt: skip


def test_parse_scan_drops_hostile_entries():
    good = module("/w/r/good", ["base"])
    hostile = [
        good,
        module("/w/r/bad name"),
        module("/w/r/x;id"),
        {**module("/w/r/rel"), "path": "r/rel"},
        {**module("/w/r/ctl"), "path": "/w/r\n/ctl"},
        {**module("/w/r/nul"), "path": "/w/r\x00/nul"},
        {**module("/w/r/other"), "name": "another"},  # name is not the folder's
        {**module("/w/r/long"), "name": "a" * 300, "path": "/w/r/" + "a" * 300},
        {**module("/w/r/dots"), "path": "/w/../dots"},
        "not an object",
        5,
        {"name": 5, "path": "/w/r/5"},
    ]
    text = json.dumps(
        {
            "root": "/w",
            "odoo": [{"path": "/w/odoo", "version": "18.0"}, {"path": "odoo"}, [], {"x": 1}],
            "modules": hostile,
            "errors": [{"path": "/w/x\n", "error": "bad\x1b[31m"}, "junk", {"path": 5}],
        }
    )
    scan = odoo_tree.parse_scan(text)
    assert [m["name"] for m in scan["modules"]] == ["good"]
    assert scan["odoo"] == [{"path": "/w/odoo", "version": "18.0"}]
    assert scan["errors"][0] == {"path": "/w/x ", "error": "bad [31m"}
    assert scan["errors"][1] == {"path": "", "error": "(no message)"}
    assert len(scan["errors"]) == 2 + 3 + (len(hostile) - 1)


def test_parse_scan_coerces_field_types():
    entry = {
        **module("/w/r/m"),
        "version": 18,
        "summary": "line\nbreak" + "x" * 5000,
        "license": None,
        "depends": ["base", "base", "not a name", 7, None, "web"] + ["x"] * 5000,
        "external_python": ["requests", 5, "", "a\nb", "y" * 5000],
        "external_bin": "wkhtmltopdf",
        "installable": "yes",
        "auto_install": ["base"],
        "application": 1,
        "requirements": "true",
        "addons_dir": "/elsewhere",
        "extra": "ignored",
    }
    (found,) = scan_of([entry])["modules"]
    assert found == {
        "name": "m",
        "path": "/w/r/m",
        "addons_dir": "/w/r",
        "version": "",
        "summary": "line break" + "x" * 1990,
        "license": "",
        "author": "",
        "category": "",
        "depends": ["base", "web", "x"],
        "external_python": ["requests", "y" * 2000],
        "external_bin": [],
        "installable": True,
        "auto_install": False,
        "application": False,
        "requirements": False,
    }


def test_parse_scan_caps_the_module_count():
    modules = [module(f"/w/r/m{i}") for i in range(odoo_tree.MAX_MODULES + 5)]
    scan = scan_of(modules)
    assert len(scan["modules"]) == odoo_tree.MAX_MODULES
    assert "only the first 20000" in scan["errors"][-1]["error"]


CHAIN = 2_000


def test_dependencies_of_a_long_chain():
    graph = {f"m{i}": [f"m{i - 1}"] if i else [] for i in range(CHAIN)}
    top = f"m{CHAIN - 1}"
    assert len(odoo_tree.dependencies(graph, [top])) == CHAIN - 1
    assert top not in odoo_tree.dependencies(graph, [top])
    assert len(odoo_tree.dependents(graph, ["m0"])) == CHAIN - 1
    assert odoo_tree.dependents(graph, [top]) == []
    assert odoo_tree.dependencies(graph, ["m0"]) == []


def test_dependencies_of_a_diamond():
    graph = {"top": ["left", "right"], "left": ["base"], "right": ["base"], "base": []}
    assert odoo_tree.dependencies(graph, ["top"]) == ["base", "left", "right"]
    assert odoo_tree.dependents(graph, ["base"]) == ["left", "right", "top"]
    assert odoo_tree.dependents(graph, ["left"]) == ["top"]
    # A given module another given module needs is in the result (union of the closures).
    assert odoo_tree.dependencies(graph, ["top", "left"]) == ["base", "left", "right"]
    assert odoo_tree.dependencies(graph, []) == []


def test_dependencies_with_cycles_and_unknown_names():
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "ghost"], "d": ["d"], "e": ["a"]}
    assert odoo_tree.dependencies(graph, ["a"]) == ["a", "b", "c", "ghost"]
    assert odoo_tree.dependencies(graph, ["d"]) == ["d"]
    assert odoo_tree.dependents(graph, ["a"]) == ["a", "b", "c", "e"]
    assert odoo_tree.dependents(graph, ["ghost"]) == ["a", "b", "c", "e"]
    assert odoo_tree.dependencies(graph, ["ghost", "nobody"]) == []
    assert odoo_tree.dependents(graph, ["nobody"]) == []


def test_modules_of_paths():
    modules = [module("/a/mod"), module("/a/mod2"), module("/b/x/mod3"), module("/b/x/mod3x")]
    assert odoo_tree.modules_of_paths(modules, ["/a/mod2/x.py"]) == ["mod2"]
    assert odoo_tree.modules_of_paths(modules, ["/a/mod/models/x.py", "/b/x/mod3x/y"]) == [
        "mod",
        "mod3x",
    ]
    assert odoo_tree.modules_of_paths(modules, ["/a/mod", "/a/modx/f", "/a/f", "/", "", 5]) == []
    assert odoo_tree.modules_of_paths(modules, ["/a/mod/__manifest__.py", "/a/mod/"]) == ["mod"]
    assert odoo_tree.modules_of_paths([], ["/a/mod/x"]) == []


def test_modules_of_paths_longest_prefix_wins():
    # Modules are never nested in a scan, but a hostile scan may say otherwise.
    modules = [module("/a/outer"), module("/a/outer/inner")]
    assert odoo_tree.modules_of_paths(modules, ["/a/outer/inner/f.py"]) == ["inner"]
    assert odoo_tree.modules_of_paths(modules, ["/a/outer/f.py"]) == ["outer"]


@pytest.mark.skipif(
    not os.path.isfile(os.path.join(ODOO_SRC, "odoo", "release.py")),
    reason=f"no Odoo source at {ODOO_SRC} (set ODOO_SRC)",
)
def test_scan_of_the_real_odoo_tree():
    scan = scanned(ODOO_SRC)
    root = os.path.realpath(ODOO_SRC)
    assert scan["odoo"] == [{"path": root, "version": "18.0"}]
    modules = by_name(scan)
    assert modules["base"]["depends"] == [] and modules["base"]["addons_dir"] == (
        f"{root}/odoo/addons"
    )
    assert "base" in modules["web"]["depends"]
    assert odoo_tree.addons_path(scan)[0] == f"{root}/odoo/addons"
    assert odoo_tree.dependencies(odoo_tree.module_graph(scan), ["web"]) == ["base"]
    assert scan["errors"] == []
