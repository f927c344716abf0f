"""Odoo source trees and Odoo modules in a workspace folder, on any machine.

The scan is one fixed Python script (``SCAN_SCRIPT``: standard library only, Python 3.8 or
later) run by whichever executor reaches the machine, with the folder as its only argument.
It walks the folder, reads ``odoo/release.py`` and the modules' manifests with ``ast``
(never executing them) and prints one JSON document.  ``parse_scan`` checks that document
again on the Odoo server, since the machine may be anyone's: names, paths, types and sizes.
The other functions work on a parsed scan: the addons path Odoo needs, dependency closures,
and the modules that changed files belong to.
"""

import json
import posixpath
import re

from . import validation
from .executor import RunSpec
from .output import STDERR, STDOUT, Capture
from .validation import CONTROL

MODULE_NAME = re.compile(r"[A-Za-z0-9_]+")
MAX_MODULES = 20_000
MAX_DEPENDS = 1_000  # also the cap of external dependencies
MAX_TREES = 1_000
MAX_ERRORS = 1_000
MAX_TEXT = 2_000
MAX_NAME = 200
MAX_PATH = 4_096
MAX_VERSION = 50
SCAN_TIMEOUT = 300
SCAN_OUTPUT_LIMIT = 64 * 2**20  # ~ 300 000 modules' worth: anything larger is not a scan
_SURROGATE = re.compile("[\ud800-\udfff]")  # a file name that is not UTF-8, read by Python
_OMITTED = re.compile(r"\n… \d+ bytes omitted …\n")  # engine.output's mark of a cut output

# The scan, run as ``python -I -c SCAN_SCRIPT ROOT``.  Nothing in it comes from input: the
# folder is sys.argv[1].  It reads only manifests and odoo/release.py, and checks for the
# existence of a few names, so that thousands of modules take well under a second.
SCAN_SCRIPT = r"""
import ast
import json
import os
import re
import sys

PRUNED = {".git", ".hg", "node_modules", "__pycache__", ".devops"}
MODULE_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
MAX_FILE = 256 * 1024
MAX_TEXT = 2000
MAX_ITEMS = 1000
MAX_ERRORS = 1000
MANIFESTS = ("__manifest__.py", "__openerp__.py")  # Odoo 10 and later, Odoo 9 and earlier


class Refused(Exception):
    pass


def problem(errors, path, message):
    if len(errors) < MAX_ERRORS:
        errors.append({"path": path, "error": message})


def read_text(path):
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise Refused("over 256 KB: not read")
    return data.decode("utf-8-sig")


def reason(error):
    if isinstance(error, Refused):
        return str(error)
    if isinstance(error, SyntaxError):
        return "not valid Python (%s, line %s)" % (error.msg, error.lineno)
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, OSError):
        return "unreadable (%s)" % (error.strerror or error)
    if isinstance(error, ValueError):
        return "not a literal: Odoo reads it with ast.literal_eval, which refuses names and calls"
    if isinstance(error, (RecursionError, MemoryError)):
        return "too deeply nested to read"
    return "unreadable (%s)" % type(error).__name__


def text(value):
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def strings(value):
    if not isinstance(value, (list, tuple)):
        return []
    return [item[:MAX_TEXT] for item in value[:MAX_ITEMS] if isinstance(item, str)]


def module(path, manifest_file, requirements, errors):
    entry = {
        "name": os.path.basename(path), "path": path, "addons_dir": os.path.dirname(path),
        "version": "", "summary": "", "license": "", "author": "", "category": "",
        "depends": [], "external_python": [], "external_bin": [], "installable": True,
        "auto_install": False, "application": False, "requirements": requirements,
    }
    try:
        manifest = ast.literal_eval(read_text(manifest_file))
        if not isinstance(manifest, dict):
            raise Refused("not a dict literal")
    except Exception as error:  # one bad manifest never stops the scan
        problem(errors, manifest_file, "The manifest is " + reason(error) + ".")
        entry["installable"] = False
        return entry
    for key in ("version", "summary", "license", "author", "category"):
        entry[key] = text(manifest.get(key))
    entry["depends"] = strings(manifest.get("depends"))
    external = manifest.get("external_dependencies")
    if isinstance(external, dict):
        entry["external_python"] = strings(external.get("python"))
        entry["external_bin"] = strings(external.get("bin"))
    entry["installable"] = bool(manifest.get("installable", True))
    auto = manifest.get("auto_install", False)
    entry["auto_install"] = auto is True or isinstance(auto, (list, tuple, set, frozenset))
    entry["application"] = bool(manifest.get("application", False))
    return entry


def release_version(path):
    tree = ast.parse(read_text(path))
    version, serie = "", ""
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        names = [target.id for target in node.targets if isinstance(target, ast.Name)]
        value = node.value
        if "version_info" in names and isinstance(value, ast.Tuple):
            numbers = []
            for item in value.elts:
                if not (isinstance(item, ast.Constant) and type(item.value) is int):
                    break
                numbers.append(item.value)
            if len(numbers) >= 2:
                version = "%d.%d" % (numbers[0], numbers[1])
        if "serie" in names and isinstance(value, ast.Constant):
            if isinstance(value.value, str):
                serie = value.value[:50]
    return version or serie


def inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def scan(root):
    odoo, modules, errors = [], [], []
    visited, module_dirs, links = set(), set(), []

    def unreadable(error):
        problem(errors, error.filename or "", "The folder is unreadable (%s)." % error.strerror)

    def walk(top, real_top):
        for dirpath, dirnames, filenames in os.walk(top, onerror=unreadable):
            real = real_top + dirpath[len(top):]
            if real in visited or "pyvenv.cfg" in filenames:  # seen, or a virtualenv
                dirnames[:] = []
                continue
            visited.add(real)
            manifest = next((name for name in MANIFESTS if name in filenames), None)
            if manifest is not None:  # a module: modules are never nested
                dirnames[:] = []
                module_dirs.add(real)
                if MODULE_NAME.match(os.path.basename(dirpath)):
                    requirements = "requirements.txt" in filenames
                    manifest_file = os.path.join(dirpath, manifest)
                    modules.append(module(dirpath, manifest_file, requirements, errors))
                else:
                    problem(errors, dirpath, "The folder holds a manifest but its name is not "
                            "a module name (letters, digits and '_' only): rename it.")
                continue
            if "odoo-bin" in filenames and "odoo" in dirnames:
                release = os.path.join(dirpath, "odoo", "release.py")
                if os.path.isfile(release):
                    try:
                        version = release_version(release)
                    except Exception as error:  # reported, the tree still listed
                        version = ""
                        problem(errors, release, "The release file is " + reason(error) + ".")
                    if not version:
                        problem(errors, release, "No version_info found in the release file.")
                    odoo.append({"path": dirpath, "version": version})
            keep = []
            for name in sorted(dirnames):
                if name in PRUNED or name.startswith("."):
                    continue
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    links.append(path)  # followed after the real tree: see below
                else:
                    keep.append(name)
            dirnames[:] = keep

    def under_module(real):
        while inside(real, root) and real != root:
            real = os.path.dirname(real)
            if real in module_dirs:
                return True
        return False

    walk(root, root)
    # A linked folder is walked only when its target is inside the root and was not walked
    # already (by the real tree or by another link): never twice, never in a loop.
    index = 0
    while index < len(links):
        link = links[index]
        index += 1
        real = os.path.realpath(link)
        name = os.path.basename(real)
        if not os.path.isdir(real) or not inside(real, root) or real in visited:
            continue
        if name in PRUNED or name.startswith(".") or under_module(real):
            continue
        walk(link, real)
    odoo.sort(key=lambda tree: tree["path"])
    modules.sort(key=lambda entry: entry["path"])
    return {"root": root, "odoo": odoo, "modules": modules, "errors": errors}


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("Give the folder to scan as the only argument.\n")
        sys.exit(2)
    root = os.path.realpath(sys.argv[1])
    if not os.path.exists(root):
        sys.stderr.write("%s does not exist on this machine: check the path.\n" % sys.argv[1])
        sys.exit(2)
    if not os.path.isdir(root):
        sys.stderr.write("%s is not a folder: choose the folder to scan.\n" % sys.argv[1])
        sys.exit(2)
    json.dump(scan(root), sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


main()
"""


class ScanError(ValueError):
    """The scan could not run, or printed something unusable; ``str()`` says what to do."""


def scan_argv(root, python="python3"):
    """argv that scans the folder ``root`` (an absolute path) with the interpreter ``python``.

    ``-I`` (isolated mode) keeps the scan from importing anything of the current folder, of
    PYTHONPATH or of the user's site-packages: a ``json.py`` lying in a workspace is never
    run.  The folder is an argument of its own, never part of the script."""
    problem = validation.check_absolute_path(root)
    if problem:
        raise ScanError(str(problem))
    if not isinstance(python, str) or python[:1] in ("", "-") or CONTROL.search(python):
        raise ScanError("The Python interpreter is a program name or path, such as python3.")
    return [python, "-I", "-c", SCAN_SCRIPT, root]


def run_scan(executor, root, python="python3", timeout=SCAN_TIMEOUT):
    """Scan ``root`` on the machine ``executor`` reaches; the parsed scan (``parse_scan``).

    The output is read whole up to ``SCAN_OUTPUT_LIMIT`` (``Executor.read_stdout`` keeps
    only 128 KB, a few hundred modules).  Raises ScanError, or ExecError when the machine
    cannot be reached."""
    capture = Capture(head=SCAN_OUTPUT_LIMIT, tail=0)
    result = executor.run(RunSpec(scan_argv(root, python), timeout=timeout), capture)
    if result.timed_out:
        raise ScanError(
            f"The scan of {root} took over {timeout} s: choose a smaller folder, the one "
            "holding the Odoo source and the addons repositories."
        )
    if result.exit_code == 127:
        raise ScanError(f"{python} was not found on the machine: install Python 3.8 or later.")
    if not result.ok:
        message = capture.text(STDERR).strip()[-500:] or f"exit status {result.exit_code}"
        raise ScanError(f"The scan of {root} failed: {message}")
    if capture.streams[STDOUT].truncated:
        raise ScanError(
            f"The scan of {root} printed over {SCAN_OUTPUT_LIMIT >> 20} MB: choose a smaller "
            "folder, the one holding the Odoo source and the addons repositories."
        )
    return parse_scan(capture.text(STDOUT, raw=True))


# --- Reading the scan on the server -------------------------------------------------------


def parse_scan(text):
    """The scan printed by ``SCAN_SCRIPT``, checked: ``{"root", "odoo", "modules", "errors"}``.

    Whatever the machine printed is checked again: an output that is not the scan's JSON
    raises ScanError; an entry with a bad name, path or type is dropped and reported in
    ``errors`` (``{"path", "error"}``: a file or folder, and what is wrong with it); fields
    of the wrong type take their default; texts and lists are capped.  Modules of the same
    name in two folders are both kept (``addons_path`` says which one Odoo loads)."""
    if not isinstance(text, str):
        raise ScanError("The scan's output is not text.")
    if _OMITTED.search(text):
        raise ScanError(
            "The scan's output was cut (it was read with a size limit): read it with "
            "odoo_tree.run_scan, which keeps all of it."
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ScanError(
            f"The scan printed something other than its JSON ({error}): check that the "
            "machine's python3 runs without printing anything else, then scan again."
        ) from error
    if not isinstance(data, dict):
        raise ScanError("The scan's output is not a JSON object: scan again.")
    root = _clean_path(data.get("root"))
    if root is None:
        raise ScanError("The scan's output has no valid folder (an absolute path): scan again.")
    errors = [_clean_error(entry) for entry in _list(data, "errors")[:MAX_ERRORS]]
    errors = [entry for entry in errors if entry is not None]
    odoo = []
    for entry in _list(data, "odoo")[:MAX_TREES]:
        tree = _clean_tree(entry, errors)
        if tree is not None:
            odoo.append(tree)
    entries = _list(data, "modules")
    if len(entries) > MAX_MODULES:
        errors.append(
            _error(root, f"{len(entries)} modules found: only the first {MAX_MODULES} are "
                   "kept; scan a smaller folder.")
        )  # fmt: skip
    modules = []
    for entry in entries[:MAX_MODULES]:
        module = _clean_module(entry, errors)
        if module is not None:
            modules.append(module)
    odoo.sort(key=lambda tree: tree["path"])
    modules.sort(key=lambda module: module["path"])
    return {"root": root, "odoo": odoo, "modules": modules, "errors": errors[:MAX_ERRORS]}


def _list(data, key):
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ScanError(f"'{key}' in the scan's output is not a list: scan again.")
    return value


def _error(path, message):
    return {"path": path, "error": message}


def _show(value, limit=100):
    """``value`` as a one-line text for a message."""
    return CONTROL.sub("?", str(value)[:limit])


def _text(value, limit=MAX_TEXT):
    """A one-line text: control characters become spaces; anything else than text is ""."""
    return CONTROL.sub(" ", value[:limit]) if isinstance(value, str) else ""


def _clean_path(value):
    """``value`` normalized when it is an absolute path Odoo can use, else None."""
    if not isinstance(value, str) or len(value) > MAX_PATH or _SURROGATE.search(value):
        return None
    if validation.check_absolute_path(value):
        return None
    return validation.normalize_path(value)


def _clean_error(entry):
    if not isinstance(entry, dict):
        return None
    path = entry.get("path")
    return _error(_text(path, MAX_PATH), _text(entry.get("error"), 500) or "(no message)")


def _clean_tree(entry, errors):
    if not isinstance(entry, dict):
        errors.append(_error("", "An Odoo source entry is not an object: dropped."))
        return None
    path = _clean_path(entry.get("path"))
    if path is None:
        errors.append(
            _error("", f"An Odoo source has an invalid path ({_show(entry.get('path'))}): dropped.")
        )
        return None
    return {"path": path, "version": _text(entry.get("version"), MAX_VERSION)}


def _clean_module(entry, errors):
    if not isinstance(entry, dict):
        errors.append(_error("", "A module entry is not an object: dropped."))
        return None
    name, path = entry.get("name"), _clean_path(entry.get("path"))
    if not isinstance(name, str) or len(name) > MAX_NAME or not MODULE_NAME.fullmatch(name):
        errors.append(
            _error(path or "", f"'{_show(name)}' is not a module name (letters, digits and "
                   "'_' only): dropped.")
        )  # fmt: skip
        return None
    if path is None or posixpath.basename(path) != name:
        errors.append(
            _error("", f"The module {name} has an invalid path ({_show(entry.get('path'))}): "
                   "dropped.")
        )  # fmt: skip
        return None
    installable = entry.get("installable", True)
    return {
        "name": name,
        "path": path,
        "addons_dir": posixpath.dirname(path),  # derived, not trusted
        "version": _text(entry.get("version")),
        "summary": _text(entry.get("summary")),
        "license": _text(entry.get("license")),
        "author": _text(entry.get("author")),
        "category": _text(entry.get("category")),
        "depends": _module_names(entry.get("depends")),
        "external_python": _strings(entry.get("external_python")),
        "external_bin": _strings(entry.get("external_bin")),
        "installable": installable if isinstance(installable, bool) else True,
        "auto_install": entry.get("auto_install") is True,
        "application": entry.get("application") is True,
        "requirements": entry.get("requirements") is True,
    }


def _module_names(value):
    """The valid module names of a list, in order, without repeats, at most MAX_DEPENDS."""
    if not isinstance(value, list):
        return []
    names = []
    for item in value[:MAX_DEPENDS]:
        if isinstance(item, str) and MODULE_NAME.fullmatch(item) and item not in names:
            names.append(item)
    return names


def _strings(value):
    if not isinstance(value, list):
        return []
    return [
        item[:MAX_TEXT] for item in value[:MAX_DEPENDS] if isinstance(item, str) and item.strip()
        and not CONTROL.search(item)
    ]  # fmt: skip


# --- Working with a parsed scan -----------------------------------------------------------


def addons_path(scan):
    """The folders holding modules, in the order Odoo should search them: each Odoo source
    tree's ``odoo/addons`` then ``addons``, then every other folder, sorted; no repeats.
    Odoo loads the first module of a name it finds along this path."""
    holding = {module["addons_dir"] for module in scan["modules"]}
    ordered = []
    for tree in scan["odoo"]:
        for folder in (
            posixpath.join(tree["path"], "odoo", "addons"),
            posixpath.join(tree["path"], "addons"),
        ):
            if folder in holding and folder not in ordered:
                ordered.append(folder)
    return ordered + sorted(holding.difference(ordered))


def module_graph(scan):
    """``{name: [depends]}`` of the modules Odoo would load: when two folders hold a module
    of the same name, the one that comes first in ``addons_path`` wins."""
    rank = {folder: index for index, folder in enumerate(addons_path(scan))}
    graph, chosen = {}, {}
    for module in scan["modules"]:
        name, place = module["name"], rank[module["addons_dir"]]
        if name not in chosen or place < chosen[name]:
            chosen[name] = place
            graph[name] = list(module["depends"])
    return graph


def dependencies(graph, names):
    """Every module that one of ``names`` depends on, directly or not, sorted.

    This is the transitive closure (one ``depends`` step or more): a module of ``names`` is
    in the result only when one of ``names`` depends on it, through a cycle or because
    another given module needs it.  So ``dependencies(g, [a, b])`` is always the union of
    ``dependencies(g, [a])`` and ``dependencies(g, [b])``.  Names absent from ``graph``
    depend on nothing."""
    return _closure(graph, names)


def dependents(graph, names):
    """Every module that depends on one of ``names``, directly or not, sorted (the reverse
    of ``dependencies``, read the same way)."""
    reverse = {}
    for name, depends in graph.items():
        for depend in depends or ():
            reverse.setdefault(depend, []).append(name)
    return _closure(reverse, names)


def _closure(edges, names):
    """The nodes reached from ``names`` by one edge or more; iterative, cycle-safe."""
    found = set()
    stack = [target for name in names for target in edges.get(name) or ()]
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(edges.get(node) or ())
    return sorted(found)


def modules_of_paths(modules, paths):
    """The names of the ``modules`` (as ``parse_scan`` gives them) holding any of ``paths``
    (absolute paths of files), sorted.  A file belongs to the module whose path is its
    longest prefix followed by "/": ``/a/mod2/x`` is not in ``/a/mod``."""
    by_path = {module["path"]: module["name"] for module in modules}
    found = set()
    for path in paths:
        if not isinstance(path, str):
            continue
        folder = path
        while True:
            cut = folder.rfind("/")
            if cut <= 0:
                break
            folder = folder[:cut]
            if folder in by_path:
                found.add(by_path[folder])
                break
    return sorted(found)
