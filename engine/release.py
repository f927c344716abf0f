"""Releases of a module: versions, the bump a diff calls for, changelogs, backup rotation.

Pure functions only (nothing here runs a process):

- ``check_version``, ``bump``, ``compare``: Odoo module versions, ``X.Y.Z`` or
  ``SERIES.X.Y.Z`` (``18.0.1.2.3``); ``check_release_name``: a name that becomes a git tag;
- ``suggest_bump``: "minor" or "patch" from the text of ``git diff -U0 OLD NEW -- folder``;
- ``set_manifest_version``: a ``__manifest__.py`` with its version replaced, nothing else;
- ``parse_subject``, ``changelog``: Markdown release notes from commit subjects (conventional
  commits when used) and OCA-style ``readme/newsfragments/<n>.<type>`` files;
- ``parse_log``: the output of ``git log --format=LOG_FORMAT A..B``;
- ``rotation_keep``: which backups a grandfather-father-son policy keeps;
- ``DUMP_CHECK_SCRIPT``, ``parse_dump_check``: a check of an ``odoo-bin db dump`` zip, run
  on the machine that holds it, and the JSON it prints.
"""

import datetime
import json
import re

VERSION = re.compile(r"(?:[0-9]+\.[0-9]+\.)?[0-9]+\.[0-9]+\.[0-9]+")
MAX_VERSION = 30
RELEASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PARTS = ("major", "minor", "patch")
LOG_FORMAT = "%H%x1f%an%x1f%s%x1e"
_FIELD, _RECORD = "\x1f", "\x1e"


class ReleaseInputError(ValueError):
    pass


def check_version(version):
    if not isinstance(version, str) or len(version) > MAX_VERSION or not VERSION.fullmatch(version):
        return f"{repr(version)[:40]} is not a module version, such as 1.2.3 or 18.0.1.2.3."
    return None


def check_release_name(name):
    if (
        not isinstance(name, str)
        or not RELEASE_NAME.fullmatch(name)
        or ".." in name
        or name.endswith((".lock", "."))
        or name.upper() == "HEAD"
        or (re.fullmatch(r"[0-9a-fA-F]{7,}", name) and not name.isdigit())
    ):
        return (
            f"{repr(name)[:80]} is not a release name: 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..', not ending in '.' or '.lock', "
            "neither HEAD nor what reads as a commit id (7 or more hexadecimal digits, letters "
            "among them)."
        )
    return None


def _parts(version):
    problem = check_version(version)
    if problem:
        raise ReleaseInputError(problem)
    return [int(part) for part in version.split(".")]


def bump(version, part):
    """``version`` with its major, minor or patch number raised and the lower ones zeroed
    (the series, such as 18.0, stays)."""
    numbers = _parts(version)
    if part not in PARTS:
        raise ReleaseInputError(f"{repr(part)[:40]} is not one of major, minor, patch.")
    series, xyz = numbers[:-3], numbers[-3:]
    index = PARTS.index(part)
    xyz = [*xyz[:index], xyz[index] + 1] + [0] * (2 - index)
    return ".".join(str(n) for n in series + xyz)


def compare(a, b):
    """-1, 0 or 1 as version ``a`` is lower than, equal to or higher than ``b``, compared as
    tuples of ints.  When only one of them has a series, the other is read in that series
    (``1.2.3`` against ``18.0.1.2.4`` compares ``18.0.1.2.3``)."""
    left, right = _parts(a), _parts(b)
    if len(left) < len(right):
        left = right[:2] + left
    elif len(right) < len(left):
        right = left[:2] + right
    return (left > right) - (left < right)


_ADDED_FIELD = re.compile(r"^\+\s*(\w+)\s*=\s*fields\.\w+\(")
_REMOVED_FIELD = re.compile(r"^-\s*(\w+)\s*=\s*fields\.\w+\(")
_ADDED_MODEL = re.compile(r"""^\+\s*_name\s*=\s*["']?([\w.]*)""")


def _diff_files(text):
    """[{"path", "new", "added", "removed"}] from a unified diff: the file headers are read up
    to the first hunk (``@@``), after which only ``diff --git`` starts another file."""
    files, current, in_hunk = [], None, False
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            path = line[len("diff --git ") :].partition(" b/")[2]
            current, in_hunk = {"path": path, "new": False, "added": [], "removed": []}, False
            files.append(current)
        elif current is None:
            continue
        elif line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith("+"):
            current["added"].append(line)
        elif in_hunk and line.startswith("-"):
            current["removed"].append(line)
        elif not in_hunk and line.startswith("new file mode"):
            current["new"] = True
        elif not in_hunk and line.startswith("+++ b/"):
            current["path"] = line[len("+++ b/") :].rstrip("\t").strip('"')
    return files


def suggest_bump(diff_text):
    """("minor" | "patch" | "none", reason) for the text of ``git diff -U0 OLD NEW --
    <module folder>``: minor when it adds a file under a ``migrations/`` folder, a model
    (an added ``_name = ...`` line) or a field (an added ``name = fields.X(`` line whose
    name is not also removed in the same file: that is a modified field); else patch."""
    if not isinstance(diff_text, str) or not diff_text.strip():
        return "none", ""
    files = _diff_files(diff_text)
    if any(f["new"] and "migrations" in f["path"].split("/")[:-1] for f in files):
        return "minor", "new migration scripts"
    python = [f for f in files if f["path"].endswith(".py")]
    for f in python:
        removed = {line[1:].strip() for line in f["removed"]}
        for line in f["added"]:
            match = _ADDED_MODEL.match(line)
            if match and line[1:].strip() not in removed:
                return "minor", f"new model {match[1] or 'in ' + f['path']}"
    for f in python:
        removed = {m[1] for m in map(_REMOVED_FIELD.match, f["removed"]) if m}
        for match in filter(None, map(_ADDED_FIELD.match, f["added"])):
            if match[1] not in removed:
                return "minor", f"new field {match[1]} in {f['path']}"
    return "patch", "changes only"


_MANIFEST_VERSION = re.compile(r"""(["'])version\1(\s*:\s*)(["'])([^"'\n]*)\3""")


def set_manifest_version(text, version):
    """The manifest's text with its version replaced, everything else byte for byte."""
    problem = check_version(version)
    if problem:
        raise ReleaseInputError(problem)
    matches = list(_MANIFEST_VERSION.finditer(text)) if isinstance(text, str) else []
    if len(matches) != 1:
        raise ReleaseInputError(
            f"The manifest has {len(matches)} 'version' keys with a quoted value, not one."
        )
    start, end = matches[0].span(4)
    return text[:start] + version + text[end:]


CONVENTIONAL = {
    "feat": "Features",
    "fix": "Bug fixes",
    "perf": "Performance",
    "refactor": "Refactoring",
    "docs": "Documentation",
    "test": "Tests",
    "build": "Build",
    "ci": "Build",
    "chore": "Chores",
    "revert": "Reverts",
}
FRAGMENT_TYPES = {
    "feature": "Features",
    "bugfix": "Bug fixes",
    "doc": "Documentation",
    "removal": "Removals",
    "misc": "Other changes",
}
BREAKING = "Breaking changes"
OTHER = "Other changes"
SECTIONS = (BREAKING, "Features", "Bug fixes", "Performance", "Refactoring", "Documentation",
            "Tests", "Build", "Chores", "Reverts", "Removals", OTHER)  # fmt: skip
_SUBJECT = re.compile(r"([A-Za-z]+)(?:\(([^()\s][^()]*)\))?(!)?:\s+(\S.*)")


def parse_subject(subject):
    """(type, scope, breaking, description) of a conventional commit subject such as
    ``fix(sale)!: round totals``; (None, None, False, subject) for any other subject."""
    subject = subject.strip() if isinstance(subject, str) else ""
    match = _SUBJECT.fullmatch(subject)
    if not match or match[1].lower() not in CONVENTIONAL:
        return None, None, False, subject
    scope = match[2].strip() if match[2] else None
    return match[1].lower(), scope, bool(match[3]), match[4].strip()


def changelog(version, commits, fragments=(), date=None):
    """Markdown release notes: ``# version (date)``, then the sections of ``SECTIONS`` that
    have entries, in that order, fragments first.  Commits (dicts with repo, sha, subject)
    go by their conventional type, breaking ones first, others under "Other changes"; when
    no commit is conventional, every subject is listed as is in a last "Changes" section.
    Merge commits are left out.  Fragments are (path, text) of ``<n>.<type>`` files, sorted
    by path."""
    problem = check_release_name(version)
    if problem:
        raise ReleaseInputError(problem)
    title = f"# {version}"
    if date is not None:
        if not isinstance(date, datetime.date):
            raise ReleaseInputError("The release date is a date or a datetime.")
        day = date.date() if isinstance(date, datetime.datetime) else date
        title += f" ({day.isoformat()})"
    sections = {name: [] for name in (*SECTIONS, "Changes")}
    for path, text in sorted(fragments):
        kind = path.rsplit("/", 1)[-1].rpartition(".")[2]
        words = " ".join(line.strip() for line in text.strip().splitlines() if line.strip())
        if words:
            sections[FRAGMENT_TYPES.get(kind, OTHER)].append(f"- {words}")
    commits = [c for c in commits if not str(c.get("subject", "")).startswith("Merge ")]
    parsed = [parse_subject(c.get("subject", "")) for c in commits]
    conventional = any(kind for kind, *_rest in parsed)
    for commit, (kind, scope, breaking, description) in zip(commits, parsed, strict=True):
        ref = f"({commit.get('repo', '')} {str(commit.get('sha', ''))[:8]})"
        if not conventional:
            sections["Changes"].append(f"- {description} {ref}")
            continue
        section = BREAKING if breaking else CONVENTIONAL.get(kind, OTHER)
        prefix = f"**{scope}**: " if scope else ""
        sections[section].append(f"- {prefix}{description} {ref}")
    body = [f"## {name}\n\n" + "\n".join(lines) + "\n" for name, lines in sections.items() if lines]
    return f"{title}\n\n" + ("\n".join(body) if body else "No change.\n")


def parse_log(text):
    """[{"sha", "author", "subject"}] from ``git log --format=LOG_FORMAT``."""
    commits = []
    for record in (text or "").split(_RECORD):
        fields = record.strip("\n").split(_FIELD, 2)
        if len(fields) == 3:
            sha, author, subject = fields
            commits.append({"sha": sha, "author": author, "subject": subject})
    return commits


def rotation_keep(backups, daily=7, weekly=4, monthly=3):
    """The ids of the backups to keep (grandfather-father-son); the others are to delete.

    ``backups`` is [(id, datetime)].  Kept: the newest backup of each of the ``daily`` most
    recent days that have a backup, of each of the ``weekly`` most recent ISO weeks that
    have one, and of each of the ``monthly`` most recent months that have one.  A backup
    may be kept on several counts; counts of 0 keep nothing on that count.  Of two backups
    at the same instant, the later one in ``backups`` is the newest."""
    counts = (daily, weekly, monthly)
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in counts):
        raise ReleaseInputError("Backup rotation counts are whole numbers, 0 or more.")
    if any(not isinstance(when, datetime.datetime) for _id, when in backups):
        raise ReleaseInputError("Each backup is (id, datetime).")
    periods = (
        lambda when: when.date(),
        lambda when: tuple(when.isocalendar())[:2],
        lambda when: (when.year, when.month),
    )
    keep = set()
    for count, period in zip(counts, periods, strict=True):
        newest = {}  # period -> (id, datetime), in time order so the newest wins
        for backup_id, when in sorted(backups, key=lambda backup: backup[1]):
            newest[period(when)] = backup_id
        keep.update(newest[key] for key in sorted(newest, reverse=True)[:count])
    return keep


# Run as ``python3 -c DUMP_CHECK_SCRIPT /path/to/dump.zip`` (stdlib only, any Python 3):
# prints one JSON line, exit code 0 when the dump looks restorable, else 1.
DUMP_CHECK_SCRIPT = r"""
import json, os, sys, zipfile

out = {"ok": False, "size": 0, "sql_bytes": 0, "files": 0, "modules": 0,
       "database": "", "version": "", "error": ""}
try:
    if len(sys.argv) != 2:
        raise ValueError("usage: python3 -c SCRIPT DUMP.zip")
    out["size"] = os.path.getsize(sys.argv[1])
    with zipfile.ZipFile(sys.argv[1]) as dump:
        members = dict((info.filename, info) for info in dump.infolist())
        out["files"] = len([name for name, info in members.items()
                            if name.startswith("filestore/") and not name.endswith("/")])
        if "dump.sql" not in members:
            raise ValueError("the archive has no dump.sql")
        out["sql_bytes"] = members["dump.sql"].file_size
        bad = dump.testzip()
        if bad is not None:
            raise ValueError("corrupt member in the archive: %s" % bad)
        if "manifest.json" not in members:
            raise ValueError("the archive has no manifest.json")
        try:
            manifest = json.loads(dump.read("manifest.json").decode("utf-8"))
        except ValueError as error:
            raise ValueError("manifest.json is unreadable: %s" % error)
        if not isinstance(manifest, dict):
            raise ValueError("manifest.json is not a JSON object")
        out["modules"] = len(manifest.get("modules") or ())
        out["database"] = str(manifest.get("db_name") or "")
        out["version"] = str(manifest.get("version") or "")
    out["ok"] = True
except Exception as error:
    out["error"] = ("%s: %s" % (type(error).__name__, error))[:500]
print(json.dumps(out))
sys.exit(0 if out["ok"] else 1)
"""
_DUMP_CHECK_TYPES = {"ok": bool, "size": int, "sql_bytes": int, "files": int, "modules": int,
                     "database": str, "version": str, "error": str}  # fmt: skip


def parse_dump_check(text):
    """The dict printed by ``DUMP_CHECK_SCRIPT`` (its last non-empty line)."""
    lines = text.strip().splitlines() if isinstance(text, str) else []
    try:
        found = json.loads(lines[-1]) if lines else None
    except ValueError:
        found = None
    if not isinstance(found, dict) or any(
        not isinstance(found.get(key), kind) or (kind is int and isinstance(found[key], bool))
        for key, kind in _DUMP_CHECK_TYPES.items()
    ):
        raise ReleaseInputError(f"Not the output of a dump check: {repr(text)[:200]}")
    return {key: found[key] for key in _DUMP_CHECK_TYPES}
