"""Releases and deployments on a machine: the commands (argv lists, for an executor).

Odoo's own database manager does the database work, with the instance's configuration
file (it holds the passwords: nothing secret goes on a command line):

- ``backup_argv``: ``odoo-bin db dump`` (a zip: ``dump.sql``, ``manifest.json`` and the
  filestore), written beside then renamed (never a half backup under the final name),
  then checked (``release.DUMP_CHECK_SCRIPT``: the archive's CRCs, its contents);
- ``restore_argv``: ``odoo-bin db load --force`` (database and filestore replaced),
  optionally ``--neutralize`` (crons, outgoing mail servers, payment providers off);
- ``copy_argv``: one instance's database into another's (Refresh staging), neutralised.

``preflight_argv`` reads what a deployment needs to know before it changes anything: free
disk space, uncommitted changes in the repositories, and the database (reachable, the
installed modules' versions, modules left half installed), through ``DB_STATE_SCRIPT`` run
by the build's Python (psycopg2 is Odoo's own requirement).

``release_checkout_argv`` moves each repository to its release commit (detached, fetched
first when it is not there yet); ``tag_push_argv`` tags each repository (annotated) and
pushes the tag.
"""

import json
import re

from .release import DUMP_CHECK_SCRIPT
from .service import _EXCLUDE_STATE

SHA = re.compile(r"[0-9a-f]{40}")
# Git's credentials for one repository: its token file (GIT_ASKPASS reads it), or none.
_CREDENTIALS = r"""
use_token() {
    unset DEVOPS_GIT_TOKEN_FILE
    if [ -n "$1" ]; then DEVOPS_GIT_TOKEN_FILE=$1; export DEVOPS_GIT_TOKEN_FILE; fi
}
"""
_FOLDER = re.compile(r"[^\0\n]{1,255}")


class DeployInputError(ValueError):
    """A value that cannot go into a deployment command."""


def _check_sha(sha):
    if not isinstance(sha, str) or not SHA.fullmatch(sha):
        raise DeployInputError(f"Not a commit id: {sha!r}")
    return sha


def _check_folder(folder):
    if (
        not isinstance(folder, str)
        or not _FOLDER.fullmatch(folder)
        or folder.startswith(("-", "/"))
        or ".." in folder.split("/")
    ):
        raise DeployInputError(f"Not a folder of the workspace: {folder!r}")
    return folder


def _odoo_db(python, odoo_bin, config):
    return [python, odoo_bin, "db", "-c", config]


# $1 python, $2 odoo-bin, $3 config, $4 database, $5 path, $6 check script
_BACKUP = (
    _EXCLUDE_STATE
    + r"""
mkdir -p -- "$(dirname -- "$5")" || exit 1
tmp="$5.part"
trap 'rm -f -- "$tmp"' EXIT
"$1" "$2" db -c "$3" dump "$4" "$tmp" || { echo "odoo-bin db dump failed." >&2; exit 1; }
mv -f -- "$tmp" "$5" || exit 1
chmod 600 -- "$5"
"$1" -c "$6" "$5"
"""
)


def backup_argv(python, odoo_bin, config, database, path):
    """Dump ``database`` (and its filestore) to ``path`` (a zip), then check it: the last
    line of the output is the check's JSON (``release.parse_dump_check``)."""
    return ["/bin/sh", "-c", _BACKUP, "devops-backup", python, odoo_bin, config,
            database, path, DUMP_CHECK_SCRIPT]  # fmt: skip


def verify_argv(python, path):
    return [python, "-c", DUMP_CHECK_SCRIPT, path]


# Run by the build's Python: argv[1] the Odoo source folder, [2] the configuration file,
# [3] the database, [4] the backup, [5] "copy" or "same", [6] "neutralize" or "", [7] "replace"
# or "new" (refused when the database exists).  Odoo's own
# restore (database and filestore), the database dropped first; "same" keeps what makes the
# database itself (its uuid, secret — users stay logged in — and web.base.url), which Odoo's
# ``db load`` always renews.
RESTORE_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
import odoo
from odoo.service import db
from odoo.tools import config
config.parse_config(["-c", sys.argv[2]], setup_logging=True)
config["list_db"] = True
name, path = sys.argv[3], sys.argv[4]
if db.exp_db_exist(name):
    if sys.argv[7] != "replace":
        sys.exit(f"The database {name} exists already.")
    db.exp_drop(name)
copy, neutralize = sys.argv[5] == "copy", sys.argv[6] == "neutralize"
db.restore_db(name, path, copy=copy, neutralize_database=neutralize)
print(f"{name} restored from {path}")
"""


def restore_argv(python, odoo_dir, config, database, path, neutralize=False, copy=False,
                 replace=True):  # fmt: skip
    """Replace ``database`` (and its filestore) by the backup ``path`` (or make it, when it
    does not exist; ``replace=False``: only make it); ``copy``: a copy, not the database
    itself (a new uuid and secret)."""
    return [python, "-c", RESTORE_SCRIPT, odoo_dir, config, database, path,
            "copy" if copy else "same", "neutralize" if neutralize else "",
            "replace" if replace else "new"]  # fmt: skip


# $1 python, $2 odoo-bin, $3 source config, $4 source db, $5 target config, $6 target db,
# $7 temporary file
_COPY = r"""
trap 'rm -f -- "$7"' EXIT
mkdir -p -- "$(dirname -- "$7")" || exit 1
"$1" "$2" db -c "$3" dump "$4" "$7" || { echo "Dumping $4 failed." >&2; exit 1; }
"$1" "$2" db -c "$5" load --force --neutralize "$6" "$7" ||
    { echo "Loading the copy into $6 failed." >&2; exit 1; }
echo "$4 copied into $6, neutralized."
"""


def copy_argv(python, odoo_bin, source_config, source_db, target_config, target_db, tmp_path):
    """Copy a database and its filestore into another (replaced), neutralised."""
    return ["/bin/sh", "-c", _COPY, "devops-copy", python, odoo_bin, source_config,
            source_db, target_config, target_db, tmp_path]  # fmt: skip


def remove_argv(paths):
    return ["rm", "-f", "--", *paths]


# Run by the build's Python: argv[1] the Odoo configuration file, argv[2] the database.
DB_STATE_SCRIPT = r"""
import configparser, json, sys
out = {"ok": False, "modules": {}, "pending": [], "error": ""}
try:
    import psycopg2
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(sys.argv[1])
    opt = dict(conf.items("options")) if conf.has_section("options") else {}
    kw = {"dbname": sys.argv[2], "connect_timeout": 10}
    for key, name in (("db_host", "host"), ("db_port", "port"), ("db_user", "user"),
                      ("db_password", "password")):
        value = opt.get(key)
        if value and value != "False":
            kw[name] = value
    with psycopg2.connect(**kw) as cnx, cnx.cursor() as cr:
        cr.execute("SELECT name, state, latest_version FROM ir_module_module")
        for name, state, version in cr.fetchall():
            if state in ("installed", "to upgrade", "to remove"):
                out["modules"][name] = version or ""
            if state in ("to upgrade", "to install", "to remove"):
                out["pending"].append(name)
    cnx.close()
    out["ok"] = True
except Exception as error:
    out["error"] = f"{error.__class__.__name__}: {error}".strip()[:1000]
print("\x1edb " + json.dumps(out, sort_keys=True))
"""

# $1 python, $2 config, $3 database, $4 DB_STATE_SCRIPT, then folders: free space, dirty
# repositories, database.
_PREFLIGHT = r"""
py=$1 conf=$2 db=$3 script=$4; shift 4
printf '\036disk %s\n' "$(df -Pk . 2>/dev/null | awk 'NR == 2 {print $4}')"
for f in "$@"; do
    if [ -n "$(git -C "$f" status --porcelain --untracked-files=no 2>&1)" ]; then
        printf '\036dirty %s\n' "$f"
    fi
done
"$py" -c "$script" "$conf" "$db"
"""


def preflight_argv(python, config, database, folders):
    folders = [_check_folder(f) if f != "." else f for f in folders]
    return ["/bin/sh", "-c", _PREFLIGHT, "devops-preflight", python, config, database,
            DB_STATE_SCRIPT, *folders]  # fmt: skip


def db_state_argv(python, config, database):
    return [python, "-c", DB_STATE_SCRIPT, config, database]


def parse_preflight(text):
    """{"free_mb": float or None, "dirty": [folders], "db": {...} or None} from the output of
    ``preflight_argv`` (or of ``db_state_argv``: "db" only)."""
    found = {"free_mb": None, "dirty": [], "db": None}
    for line in (text or "").split("\n"):
        if line.startswith("\x1edisk "):
            value = line[6:].strip()
            found["free_mb"] = int(value) / 1024 if value.isdigit() else None
        elif line.startswith("\x1edirty "):
            found["dirty"].append(line[7:])
        elif line.startswith("\x1edb "):
            try:
                state = json.loads(line[4:])
            except ValueError:
                continue
            if isinstance(state, dict):
                found["db"] = state
    return found


def modules_to_update(installed, release_versions, changed=None):
    """The installed modules to update (``-u``), sorted: those whose version in the release
    differs from the one the database has (``installed``: {name: version}), plus the
    installed ones of ``changed`` (the modules whose files changed) when given."""
    names = {
        name
        for name, version in release_versions.items()
        if name in installed and version and not _same_version(installed[name], version)
    }
    names |= {name for name in changed or () if name in installed}
    return sorted(names)


def _same_version(db_version, manifest_version):
    """Odoo stores a module's version with its series (18.0.1.0.0); a manifest may omit it."""
    if db_version == manifest_version:
        return True
    return db_version.endswith("." + manifest_version) and db_version.count(".") == 4


# $1 checkout pairs: folder token sha, repeated. Every folder clean first; then each goes to
# its commit (detached), fetched first when the commit is not there yet.
_RELEASE_CHECKOUT = (
    _CREDENTIALS
    + r"""
n=$#; i=0
while [ $i -lt $n ]; do
    f=$1 t=$2 c=$3; shift 3; i=$((i + 3)); set -- "$@" "$f" "$t" "$c"
    if [ -n "$(git -C "$f" status --porcelain --untracked-files=no)" ]; then
        echo "$f has uncommitted changes: commit or stash them first." >&2
        git -C "$f" status --short --untracked-files=no >&2
        exit 1
    fi
done
while [ $# -ge 3 ]; do
    f=$1 t=$2 c=$3; shift 3
    use_token "$t"
    if ! git -C "$f" cat-file -e "$c^{commit}" 2>/dev/null; then
        git -C "$f" -c credential.helper= fetch --quiet --all --tags || exit $?
    fi
    git -C "$f" cat-file -e "$c^{commit}" 2>/dev/null ||
        { echo "$f: the commit $c is not in its remote." >&2; exit 1; }
    git -C "$f" checkout --quiet --detach "$c" -- || exit $?
    git -C "$f" log --max-count=1 --format="$f: now at %h %s"
done
"""
)


def release_checkout_argv(items):
    """Move each [(folder, token file or "", commit)] to its commit."""
    argv = ["/bin/sh", "-c", _RELEASE_CHECKOUT, "devops-release-checkout"]
    for folder, token_file, sha in items:
        argv += [_check_folder(folder) if folder != "." else ".", token_file or "", _check_sha(sha)]
    return argv


# $1 tag, $2 message, then triples folder token sha: tag each (an existing tag must already
# point at that commit), then push the tags.
_TAG_PUSH = (
    _CREDENTIALS
    + r"""
tag=$1 msg=$2; shift 2
while [ $# -ge 3 ]; do
    f=$1 t=$2 c=$3; shift 3
    use_token "$t"
    if at=$(git -C "$f" rev-parse -q --verify "refs/tags/$tag^{commit}"); then
        [ "$at" = "$c" ] || { echo "$f: the tag $tag already names another commit ($at)." >&2;
                              exit 1; }
    else
        git -C "$f" tag --annotate --message="$msg" -- "$tag" "$c" || exit $?
    fi
    if git -C "$f" remote get-url origin >/dev/null 2>&1; then
        git -C "$f" -c credential.helper= push --quiet origin "refs/tags/$tag" || exit $?
        echo "$f: tagged $tag at ${c%"${c#???????????}"}, pushed"
    else
        echo "$f: tagged $tag at ${c%"${c#???????????}"} (no remote origin: not pushed)"
    fi
done
"""
)


def tag_push_argv(tag, message, items):
    """Tag ``tag`` (annotated, ``message``) at each [(folder, token file, commit)], pushed."""
    from . import git  # noqa: PLC0415 - a sibling, for the ref check

    git.check_ref_name(tag)
    argv = ["/bin/sh", "-c", _TAG_PUSH, "devops-tag", tag, message or tag]
    for folder, token_file, sha in items:
        argv += [_check_folder(folder) if folder != "." else ".", token_file or "", _check_sha(sha)]
    return argv


# Triples folder old new (old may be "-": from the start): the commits between, then the
# modules' diffs: lines "\035folder\tmodule path" followed by the diff of that path.
_HISTORY = r"""
fmt=$1; shift
while [ $# -ge 3 ]; do
    f=$1 a=$2 b=$3; shift 3
    printf '\034%s\n' "$f"
    if [ "$a" = "-" ]; then git -C "$f" log --max-count=200 --format="$fmt" "$b" --
    else git -C "$f" log --max-count=500 --format="$fmt" "$a..$b" --; fi
done
"""


def history_argv(log_format, triples):
    """The commits of each [(folder, old commit or None, new commit)] since the old one."""
    argv = ["/bin/sh", "-c", _HISTORY, "devops-history", log_format]
    for folder, old, new in triples:
        argv += [_check_folder(folder) if folder != "." else ".",
                 _check_sha(old) if old else "-", _check_sha(new)]  # fmt: skip
    return argv


def split_by_folder(text, mark="\x1c"):
    """{folder: text} of an output made of sections "MARK folder\\n…"."""
    sections, folder = {}, None
    for chunk in (text or "").split(mark):
        if not chunk:
            continue
        folder, _newline, rest = chunk.partition("\n")
        sections[folder] = rest
    return sections


_DIFFS = r"""
while [ $# -ge 4 ]; do
    f=$1 a=$2 b=$3 p=$4; shift 4
    printf '\034%s\t%s\n' "$f" "$p"
    git -C "$f" diff -U0 "$a" "$b" -- "$p"
done
"""


def diffs_argv(items):
    """The ``git diff -U0`` of each [(folder, old, new, path in the repository)]."""
    argv = ["/bin/sh", "-c", _DIFFS, "devops-diffs"]
    for folder, old, new, path in items:
        argv += [_check_folder(folder) if folder != "." else ".", _check_sha(old),
                 _check_sha(new), _check_folder(path)]  # fmt: skip
    return argv


_FRAGMENTS = r"""
for d in "$@"; do
    [ -d "$d/readme/newsfragments" ] || continue
    for f in "$d"/readme/newsfragments/*; do
        [ -f "$f" ] || continue
        printf '\034%s\n' "$f"
        head -c 4000 -- "$f"
        echo
    done
done
"""


def fragments_argv(module_paths):
    """OCA news fragments (``readme/newsfragments/*``) of the modules at ``module_paths``."""
    return ["/bin/sh", "-c", _FRAGMENTS, "devops-fragments",
            *[_check_folder(p.lstrip("/")) and p for p in module_paths]]  # fmt: skip


# Pairs folder token: push each repository's current branch to its upstream (origin).
_PUSH_HEADS = (
    _CREDENTIALS
    + r"""
while [ $# -ge 2 ]; do
    f=$1 t=$2; shift 2
    use_token "$t"
    git -C "$f" -c credential.helper= push --quiet origin HEAD || exit $?
    echo "$f: pushed"
done
"""
)


def push_heads_argv(pairs):
    """Push the current branch of each [(folder, token file or "")] to origin."""
    argv = ["/bin/sh", "-c", _PUSH_HEADS, "devops-push"]
    for folder, token_file in pairs:
        argv += [_check_folder(folder) if folder != "." else ".", token_file or ""]
    return argv
