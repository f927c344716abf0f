"""A traceback's frames mapped to their source and git blame, on any executor.

:func:`read_frames` takes the frames of an error (file, line, function: outermost first, as
Python prints them) and reads, in two commands whatever their number, the source around
each frame's line (``git.sources_argv``) and the git blame of the frames inside the
workspace (``git.blames_argv``).  Every frame says why its source or its blame is missing
with a code (``source_problem``, ``blame_problem``), which the caller words.

Containment: with ``anywhere`` false, a file is read only when its real path (links
resolved, on the machine) is inside the workspace; blame only ever covers files of the
workspace (git refuses paths outside its repository, and the text of a blamed line is never
returned).

:func:`user_frame` picks "the user's own frame": the deepest frame in the workspace that is
not an installed library (``site-packages``, ``dist-packages``, Python's own ``lib/python3.X``).
"""

import posixpath
import re

from . import git

_LIBRARY = re.compile(r"/(?:site-packages|dist-packages)/|/lib/python3(?:\.\d+)?/")

SOURCE_PROBLEMS = (
    "not_a_file",  # "<frozen importlib._bootstrap>", "<string>": no file to read
    "relative",  # a relative path and no directory to read it from
    "no_workspace",  # no workspace, and no right to read elsewhere
    "missing",
    "notfile",
    "unreadable",
    "outside",  # outside the workspace, and no right to read elsewhere
    "no_line",  # the file is shorter than the line (it changed since the run)
    "failed",  # the reading command itself failed (see source_error)
)
BLAME_PROBLEMS = (
    "no_workspace",
    "outside_workspace",
    "unreadable",  # the file cannot be read (missing, not a file, no permission)
    "not_repository",
    "untracked",  # the file is not committed
    "uncommitted",  # the line has changes not committed yet
    "changed",  # the line is past the end of the committed file
    "outside",  # git says the file is outside its repository (a link, a nested repository)
    "failed",  # see blame_error
)


def is_library(file):
    return file.startswith("<") or bool(_LIBRARY.search(file))


def inside(path, root):
    """Whether ``path`` (normalized, as written: links are the machine's business) is in
    the folder ``root``."""
    return bool(root) and posixpath.normpath(path).startswith(root.rstrip("/") + "/")


def locate(file, root, cwd):
    """The absolute path of a frame's file (relative ones from ``cwd``, else ``root``), or
    None with the reason: ``not_a_file`` or ``relative``."""
    if file.startswith("<"):
        return None, "not_a_file"
    if file.startswith("/"):
        return posixpath.normpath(file), None
    base = (cwd or root or "").rstrip("/")
    if not base:
        return None, "relative"
    return posixpath.normpath(f"{base}/{file}"), None


def read_frames(executor, frames, root="", cwd="", anywhere=False, around=5):
    """``frames``: [(file, line, function)].  Returns one dict per frame, in their order:
    file (absolute when it could be made so), line, function, in_workspace, library,
    excerpt [(number, text)], source_problem, source_error, blame ({author, email, time,
    sha, summary} or None), blame_problem, blame_error."""
    root = (root or "").rstrip("/")
    result = []
    for file, line, function in frames:
        path, problem = locate(file, root, cwd)
        result.append(
            {
                "file": path or file,
                "line": line,
                "function": function,
                "in_workspace": bool(path) and inside(path, root),
                "library": is_library(file),
                "excerpt": [],
                "source_problem": problem,
                "source_error": "",
                "blame": None,
                "blame_problem": None,
                "blame_error": "",
                "_path": path,
            }
        )
    _read_sources(executor, result, root, anywhere, around)
    _read_blames(executor, result, root)
    for frame in result:
        del frame["_path"]
    return result


def _read_sources(executor, frames, root, anywhere, around):
    wanted = [f for f in frames if f["_path"] and f["line"] > 0]
    if not anywhere and not root:
        for frame in wanted:
            frame["source_problem"] = "no_workspace"
        return
    keys = list(dict.fromkeys((f["_path"], f["line"]) for f in wanted))
    if not keys:
        return
    argv = git.sources_argv(keys, around, None if anywhere else root)
    ok, out = executor.read_stdout(argv)
    found = dict(zip(keys, git.parse_sources(out), strict=False)) if ok else {}
    for frame in wanted:
        status, rows = found.get((frame["_path"], frame["line"]), ("failed", []))
        if status == "ok" and rows:
            frame["excerpt"] = rows
        elif status == "ok":
            frame["source_problem"] = "no_line"
        else:
            frame["source_problem"] = status if status in SOURCE_PROBLEMS else "failed"
            frame["source_error"] = "" if ok else out.strip()[-500:]


def _read_blames(executor, frames, root):
    by_file = {}
    for frame in frames:
        if not root:
            frame["blame_problem"] = "no_workspace"
        elif not frame["in_workspace"]:
            frame["blame_problem"] = "outside_workspace"
        elif frame["source_problem"] in ("missing", "notfile", "unreadable"):
            frame["blame_problem"] = "unreadable"
        else:
            relative = posixpath.relpath(frame["_path"], root)
            by_file.setdefault(relative, []).append(frame)
    if not by_file:
        return
    items = [(path, [f["line"] for f in group]) for path, group in by_file.items()]
    ok, out = executor.read_stdout(git.blames_argv(items), cwd=root, env=git.GIT_ENV)
    found = git.parse_blames(out) if ok else []
    for index, group in enumerate(by_file.values()):
        blames, error = found[index] if index < len(found) else ({}, out.strip()[-500:])
        for frame in group:
            blame = blames.get(frame["line"])
            if error:
                frame["blame_problem"] = git.blame_problem(error)
                frame["blame_error"] = error
            elif not blame or not blame.get("sha"):
                frame["blame_problem"] = "failed"
                frame["blame_error"] = "git blame found nothing for this line"
            elif blame["sha"] == git.NOT_COMMITTED:
                frame["blame_problem"] = "uncommitted"
            else:
                frame["blame"] = blame


def user_frame(frames):
    """The index of the user's own frame in ``frames`` (dicts of ``read_frames``), or None
    when there is no frame: the deepest one in the workspace and not a library, else the
    deepest one in the workspace, else the deepest one that is not a library, else the
    innermost."""
    if not frames:
        return None
    for test in (
        lambda f: f["in_workspace"] and not f["library"],
        lambda f: f["in_workspace"],
        lambda f: not f["library"],
    ):
        for index in range(len(frames) - 1, -1, -1):
            if test(frames[index]):
                return index
    return len(frames) - 1
