"""Git on a workspace, through any executor (this machine or SSH): argv builders and parsers.

Every command is an argv list run in the workspace's directory, with values (branch names,
paths, messages, authors) as separate arguments; names that git could read as options (a
leading "-") are refused.  Output formats are the machine-readable ones (porcelain v2,
NUL-separated, --porcelain blame), so parsing does not depend on the user's locale.
"""

import re

from .validation import CONTROL

GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",  # never wait for a password on a terminal nobody watches
    "GIT_OPTIONAL_LOCKS": "0",  # status must not take the index lock
    "GIT_LITERAL_PATHSPECS": "1",  # a file named ":(top)x" is a file, not magic
    "LC_ALL": "C",
}
TODO_WORDS = ("TODO", "FIXME", "XXX", "HACK")
_TODO = re.compile(r"\b(TODO|FIXME|XXX|HACK)\b[:\s]*(.*)")
_FIELD = "\x1f"
_RECORD = "\x1e"


class GitInputError(ValueError):
    pass


def check_ref_name(name):
    """Refuse what git would read as an option or can never be a branch name."""
    if not isinstance(name, str) or not name.strip():
        raise GitInputError("The branch name is empty.")
    if name.startswith("-"):
        raise GitInputError(f"A branch name cannot start with '-': {name}")
    if any(char in name for char in " ~^:?*[\\") or CONTROL.search(name):
        raise GitInputError(f"'{name}' is not a valid branch name.")
    if ".." in name or name.endswith((".", "/", ".lock")) or "@{" in name:
        raise GitInputError(f"'{name}' is not a valid branch name.")
    return name


def check_author(author):
    if (
        not isinstance(author, str)
        or CONTROL.search(author)
        or not re.fullmatch(r"[^<>]+ <[^<>\s]+>", author)
    ):
        raise GitInputError("The author reads 'Name <email>'.")
    return author


def status_argv():
    return ["git", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all"]


def parse_status(text):
    """The dict of ``devops.workspace.git_status()``, less the last commit."""
    result = {
        "branch": "",
        "upstream": "",
        "ahead": 0,
        "behind": 0,
        "staged": [],
        "changed": [],
        "untracked": [],
        "conflicts": [],
    }
    entries = text.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if entry.startswith("# branch.head "):
            head = entry[len("# branch.head ") :]
            result["branch"] = "" if head == "(detached)" else head
        elif entry.startswith("# branch.upstream "):
            result["upstream"] = entry[len("# branch.upstream ") :]
        elif entry.startswith("# branch.ab "):
            ahead, behind = entry[len("# branch.ab ") :].split()
            result["ahead"], result["behind"] = int(ahead), -int(behind)
        elif entry.startswith(("1 ", "2 ")):
            renamed = entry.startswith("2 ")
            parts = entry.split(" ", 9 if renamed else 8)
            xy, path = parts[1], parts[-1]
            if renamed:
                i += 1  # the original path of a rename follows
            if xy[0] != ".":
                result["staged"].append(path)
            if xy[1] != ".":
                result["changed"].append(path)
        elif entry.startswith("u "):
            result["conflicts"].append(entry.split(" ", 10)[10])
        elif entry.startswith("? "):
            result["untracked"].append(entry[2:])
    return result


_HEAD_MARK = "\x1e\x1eHEAD\n"


def status_and_head_argv():
    """Status and the last commit in one run: fixed text, no input."""
    fmt = _FIELD.join(["%H", "%an", "%ae", "%aI", "%s"]) + _RECORD
    script = (
        "git status --porcelain=v2 --branch -z --untracked-files=all || exit $?\n"
        "printf '\\036\\036HEAD\\n'\n"
        f"git log --max-count=1 '--format={fmt}' 2>/dev/null || true\n"
    )
    return ["/bin/sh", "-c", script]


def parse_status_and_head(text):
    status_text, _mark, head = text.partition(_HEAD_MARK)
    result = parse_status(status_text)
    commits = parse_log(head)
    result["last_commit"] = commits[0] if commits else None
    return result


def log_argv(count=20):
    fmt = _FIELD.join(["%H", "%an", "%ae", "%aI", "%s"]) + _RECORD
    return ["git", "log", f"--max-count={int(count)}", f"--format={fmt}"]


def parse_log(text):
    commits = []
    for record in text.split(_RECORD):
        fields = record.strip("\n").split(_FIELD)
        if len(fields) == 5:
            sha, name, email, date, subject = fields
            commits.append(
                {"sha": sha, "author": name, "email": email, "date": date, "subject": subject}
            )
    return commits


def diff_argv(path=None, staged=False):
    argv = ["git", "diff", "--no-color", "--no-ext-diff"]
    if staged:
        argv.append("--cached")
    argv.append("--")
    if path:
        argv.append(path)
    return argv


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def parse_diff(text):
    """A unified diff (``git diff``) file by file: ``[{"path": str, "lines": [(kind, text)]}]``
    where kind is ``meta`` (the file's header lines), ``hunk`` (``@@ … @@``), ``add``,
    ``del``, ``context`` or ``note`` (``\\ No newline at end of file``).  Hunks are read by
    their line counts, so a removed line that starts with "--" is never taken for a header."""
    files, current = [], None
    old_left = new_left = 0
    rows = text.split("\n")  # only newlines: a source line may hold U+2028 and kin
    if rows and not rows[-1]:
        rows.pop()
    for row in rows:
        if current is not None and (old_left > 0 or new_left > 0):
            kind = {"+": "add", "-": "del", "\\": "note"}.get(row[:1], "context")
            if kind in ("del", "context"):
                old_left -= 1
            if kind in ("add", "context"):
                new_left -= 1
            current["lines"].append((kind, row))
            continue
        if row.startswith("diff --git ") or current is None:
            path = _diff_path(row[len("diff --git ") :]) if row.startswith("diff --git ") else ""
            current = {"path": path, "lines": []}
            files.append(current)
        hunk = _HUNK.match(row)
        if hunk:
            old_left = int(hunk[1]) if hunk[1] is not None else 1
            new_left = int(hunk[2]) if hunk[2] is not None else 1
            current["lines"].append(("hunk", row))
            continue
        if row.startswith("\\"):  # "\ No newline at end of file" after a hunk's last line
            current["lines"].append(("note", row))
            continue
        if row.startswith(("--- ", "+++ ")) and row[4:] != "/dev/null":
            current["path"] = row[4:].removeprefix("a/" if row[0] == "-" else "b/")
        current["lines"].append(("meta", row))
    return files


def _diff_path(header):
    """The path of a ``diff --git a/x b/x`` header (as shown: quoted when git quotes it)."""
    half = len(header) // 2
    if header[half : half + 1] == " " and header[:half].removeprefix("a/") == header[
        half + 1 :
    ].removeprefix("b/"):
        return header[:half].removeprefix("a/")
    return header


def create_branch_argv(name):
    return ["git", "switch", "--create", check_ref_name(name)]


def switch_argv(name):
    return ["git", "switch", check_ref_name(name)]


def commit_argv(message, author, paths):
    """Stage ``paths`` and commit exactly them."""
    if not (message or "").strip():
        raise GitInputError("The commit message is empty.")
    if not paths:
        raise GitInputError("Choose the files to commit.")
    script = (
        "m=$1; a=$2; shift 2\n"
        # No identity configured for this repository (nor globally): the author commits too,
        # rather than git failing with "Please tell me who you are".
        'if [ -z "$(git config --get user.name)" ] ||\n'
        '   [ -z "$(git config --get user.email)" ]; then\n'
        "    e=${a##*<}; GIT_COMMITTER_NAME=${a% <*}; GIT_COMMITTER_EMAIL=${e%>}\n"
        "    export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL\n"
        "fi\n"
        'git --literal-pathspecs add -- "$@" && '
        'git --literal-pathspecs commit --author="$a" -m "$m" -- "$@"\n'
    )
    return ["/bin/sh", "-c", script, "devops-commit", message, check_author(author), *paths]


_IDENTITY = (
    "printf 'name=%s\\n' \"$(git config --get user.name)\"\n"
    "printf 'email=%s\\n' \"$(git config --get user.email)\"\n"
)


def identity_argv():
    """The identity git commits with in this folder (``user.name``, ``user.email``: the
    repository's, else the user's global or the system's): fixed text, no input."""
    return ["/bin/sh", "-c", _IDENTITY]


def parse_identity(text):
    """ "Name <email>" from ``identity_argv`` output, or None when either is missing or
    would not make a valid author."""
    found = {}
    for row in text.split("\n"):
        key, _eq, value = row.partition("=")
        if key in ("name", "email") and key not in found:
            found[key] = value.strip()
    if not found.get("name") or not found.get("email"):
        return None
    try:
        return check_author(f"{found['name']} <{found['email']}>")
    except GitInputError:
        return None


def pull_argv():
    return ["git", "pull", "--ff-only"]


def push_argv(has_upstream=True):
    if has_upstream:
        return ["git", "push"]
    return ["git", "push", "--set-upstream", "origin", "HEAD"]


def head_argv():
    """The current commit and branch ("HEAD" when detached), one per line."""
    return ["/bin/sh", "-c", "git rev-parse HEAD && git rev-parse --abbrev-ref HEAD"]


# Refuse to move a work tree that holds uncommitted changes to tracked files: a checkout
# or a pull would carry them along, or (a path given as a ref) throw them away.
_CLEAN_OR_STOP = """
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "The work tree has uncommitted changes: commit or stash them first." >&2
    git status --short --untracked-files=no >&2
    exit 1
fi
"""


def checkout_argv(ref=None):
    """Fetch, then go to ``ref`` (a branch follows its upstream, fast-forward only), or pull
    the current branch (fast-forward only) when no ref is given.  ``ref`` is always read as
    a revision (``git checkout REF --``), never as a path; a dirty work tree is refused."""
    if not ref:
        return ["/bin/sh", "-c", _CLEAN_OR_STOP + "git pull --ff-only\n", "devops-pull"]
    check_ref_name(ref)
    script = _CLEAN_OR_STOP + (
        "git fetch --quiet --all --tags --prune || exit $?\n"
        'git checkout --quiet "$1" -- || exit $?\n'
        "if git rev-parse --abbrev-ref --symbolic-full-name '@{u}' >/dev/null 2>&1; then\n"
        "    git merge --ff-only --quiet '@{u}' || exit $?\n"
        "fi\n"
        "git log --max-count=1 --format='now at %h %s'\n"
    )
    return ["/bin/sh", "-c", script, "devops-checkout", ref]


def changed_argv(old, new):
    return ["git", "diff", "--name-only", "-z", f"{old}..{new}", "--"]


def modules_argv(paths):
    """The Odoo modules (folders with a __manifest__.py) holding ``paths``, one per line."""
    script = (
        'for f in "$@"; do d=$(dirname -- "$f"); '
        'while [ "$d" != "." ] && [ "$d" != "/" ]; do '
        '[ -f "$d/__manifest__.py" ] && { basename -- "$d"; break; }; d=$(dirname -- "$d"); '
        "done; done | sort -u"
    )
    return ["/bin/sh", "-c", script, "devops-modules", *paths]


def rollback_argv(branch, commit):
    """Back to ``branch`` (or a detached ``commit``) reset hard at ``commit``."""
    if not re.fullmatch(r"[0-9a-f]{7,40}", commit or ""):
        raise GitInputError(f"Not a commit id: {commit}")
    target = commit if branch in (None, "", "HEAD") else check_ref_name(branch)
    script = (
        'git checkout --quiet "$1" && git reset --quiet --hard "$2" '
        '&& git log -1 --format="back at %h %s"'
    )
    return ["/bin/sh", "-c", script, "devops-rollback", target, commit]


def todo_grep_argv():
    return ["git", "grep", "-n", "-I", "-z", "-E", r"\b(TODO|FIXME|XXX|HACK)\b"]


_GREP_ROW = re.compile(r"([^\0]*)\0(\d+)\0([^\n]*)(?:\n|\Z)")


def parse_todo_grep(text):
    """[(file, line, kind, text)] from ``git grep -n -z`` output (``path NUL line NUL text
    LF``: a path may hold a newline, never a NUL)."""
    found = []
    for row in _GREP_ROW.finditer(text):
        path, number, content = row.groups()
        match = _TODO.search(content)
        if match and number.isdigit():
            found.append((path, int(number), match.group(1), match.group(2).strip()[:500]))
    return found


# $1 file, $2 first line, $3 last line, $4 folder the file must be in ("" for anywhere).
# The real path (links resolved) is checked, only regular files are read, at most 4 MB.
_SOURCE = r"""
p=$(readlink -f -- "$1") || exit 3
if [ -n "$4" ]; then
    r=$(readlink -f -- "$4") || exit 3
    case $p in "$r"/*) ;; *) echo "$1 is outside $4" >&2; exit 4 ;; esac
fi
[ -f "$p" ] || { echo "$1 is not a file" >&2; exit 3; }
head -c 4000000 -- "$p" |
    awk -v a="$2" -v b="$3" 'NR >= a && NR <= b { print NR "\t" $0 } NR > b { exit }'
"""


def source_argv(path, line, around=5, inside=None):
    """Lines ``line - around`` to ``line + around`` of ``path``, numbered ("N\ttext");
    with ``inside``, only when the file's real path is in that folder."""
    first, last = max(1, int(line) - around), int(line) + around
    return lines_argv(path, first, last, inside)


def lines_argv(path, first, last, inside=None):
    """Lines ``first`` to ``last`` of ``path``, numbered ("N\ttext"); with ``inside``, only
    when the file's real path is in that folder."""
    return ["/bin/sh", "-c", _SOURCE, "devops-source", path, str(int(first)), str(int(last)),
            inside or ""]  # fmt: skip


# $1 folder the files must be in ("" for anywhere), then (file, first line, last line)
# triples.  Each file starts with a line "\036STATUS" (ok, missing, notfile, unreadable,
# outside), then its numbered lines: the same checks as _SOURCE, for many files at once.
_SOURCES = r"""
r=
if [ -n "$1" ]; then r=$(readlink -f -- "$1") || r=/nonexistent/devops; fi
shift
while [ $# -ge 3 ]; do
    f=$1 a=$2 b=$3
    shift 3
    if ! p=$(readlink -f -- "$f") || [ ! -e "$p" ]; then printf '\036missing\n'; continue; fi
    if [ -n "$r" ]; then
        case $p in "$r"/*) ;; *) printf '\036outside\n'; continue ;; esac
    fi
    if [ ! -f "$p" ]; then printf '\036notfile\n'; continue; fi
    if [ ! -r "$p" ]; then printf '\036unreadable\n'; continue; fi
    printf '\036ok\n'
    head -c 4000000 -- "$p" |
        awk -v a="$a" -v b="$b" 'NR >= a && NR <= b { print NR "\t" $0 } NR > b { exit }'
done
"""


def sources_argv(items, around=5, inside=None):
    """The source around many (path, line) at once, for ``parse_sources``: each file's lines
    ``line - around`` to ``line + around``, numbered; with ``inside``, only the files whose
    real path is in that folder (the others are ``outside``)."""
    argv = ["/bin/sh", "-c", _SOURCES, "devops-sources", inside or ""]
    for path, line in items:
        argv += [path, str(max(1, int(line) - around)), str(int(line) + around)]
    return argv


def parse_sources(text):
    """[(status, [(line number, text)])] from ``sources_argv`` output, in its order; status
    is ok, missing, notfile, unreadable or outside."""
    found = []
    for row in text.split("\n"):  # only newlines: a source line may hold U+2028 and kin
        if row.startswith("\036"):
            found.append((row[1:], []))
        elif found:
            number, _tab, content = row.partition("\t")
            if number.isdigit():
                found[-1][1].append((int(number), content))
    return found


def parse_source(text):
    """[(line number, text)] from ``source_argv`` output."""
    rows = []
    for row in text.split("\n"):  # only newlines: a source line may hold U+2028 and kin
        number, _tab, content = row.partition("\t")
        if number.isdigit():
            rows.append((int(number), content))
    return rows


def blame_argv(path, lines):
    argv = ["git", "blame", "--line-porcelain"]
    for line in sorted(set(lines)):
        argv += ["-L", f"{int(line)},{int(line)}"]
    return [*argv, "--", path]


# Pairs (file, "line line …") of the workspace (the current directory): each file's blame
# goes to stdout after a line "\036", then a line "\036= STATUS FIRST-LINE-OF-ITS-ERRORS".
# git runs in the file's own folder: the repository holding it may be a sub-folder of the
# workspace (a workspace of several repositories).
_BLAMES = r"""
while [ $# -ge 2 ]; do
    f=$1 n=$2
    shift 2
    printf '\036\n'
    { e=$(git -C "$(dirname -- "$f")" blame --line-porcelain \
        $(for i in $n; do printf -- '-L%s,%s ' "$i" "$i"; done) \
        -- "$(basename -- "$f")" 2>&1 >&3 3>&-); s=$?; } 3>&1
    printf '\036= %s %s\n' "$s" "$(printf '%s\n' "$e" | head -n 1)"
done
"""


def blames_argv(items):
    """git blame of many files at once, for ``parse_blames``: ``items`` is ``[(path relative
    to the workspace, [line, …])]``."""
    argv = ["/bin/sh", "-c", _BLAMES, "devops-blames"]
    for path, lines in items:
        argv += [path, " ".join(str(int(line)) for line in sorted(set(lines)))]
    return argv


def parse_blames(text):
    """[(blame, error)] from ``blames_argv`` output, in its order: ``blame`` as
    ``parse_blame`` gives it, ``error`` the first line git printed when it failed ("" when
    it worked)."""
    found = []
    chunk = []
    for row in text.split("\n"):
        if row == "\036":
            chunk = []
        elif row.startswith("\036= "):
            status, _space, error = row[3:].partition(" ")
            found.append((parse_blame("\n".join(chunk)), "" if status == "0" else error or status))
        else:
            chunk.append(row)
    return found


NOT_COMMITTED = "0" * 40  # git blame's commit of lines changed in the work tree


def blame_problem(error):
    """What a failed git blame says, as a reason: ``not_repository``, ``untracked`` (the
    file is not committed), ``outside`` (not in the repository), ``changed`` (the line is
    past the committed file's end) or ``failed``."""
    text = error.lower()
    if "not a git repository" in text:
        return "not_repository"
    if "no such path" in text or "no such ref" in text or "does not have any commits" in text:
        return "untracked"
    if "outside repository" in text or "beyond a symbolic link" in text:
        return "outside"
    if "has only" in text:
        return "changed"
    return "failed"


# $1 the workspace's path: does it exist, is it a folder we may enter, is it a git work tree?
_WORKSPACE_CHECK = r"""
if [ ! -e "$1" ]; then echo missing
elif [ ! -d "$1" ]; then echo notdir
elif ! cd -- "$1" 2>/dev/null; then echo noaccess
elif ! command -v git >/dev/null 2>&1; then echo nogit
elif [ "$(git rev-parse --is-inside-work-tree 2>/dev/null)" != true ]; then echo notrepo
else echo ok
fi
"""


def workspace_check_argv(path):
    """One word about ``path``: ok, missing, notdir, noaccess, nogit (no git command) or
    notrepo (not in a git work tree)."""
    return ["/bin/sh", "-c", _WORKSPACE_CHECK, "devops-workspace-check", path]


def parse_blame(text):
    """{final line number: {"author", "email", "time" (epoch), "sha", "summary"}}."""
    result, current, line = {}, {}, None
    for row in text.split("\n"):
        if row.startswith("\t"):
            if line is not None:
                result[line] = current
            current, line = {}, None
            continue
        parts = row.split(" ")
        if len(parts) >= 3 and re.fullmatch(r"[0-9a-f]{40}", parts[0]):
            current = {"sha": parts[0]}
            line = int(parts[2])
        elif parts[0] == "author":
            current["author"] = row[len("author ") :]
        elif parts[0] == "author-mail":
            current["email"] = row[len("author-mail ") :].strip("<>")
        elif parts[0] == "author-time":
            current["time"] = int(parts[1])
        elif parts[0] == "summary":
            current["summary"] = row[len("summary ") :]
    return result


# --- Workspaces of several repositories (each in its folder of the workspace) -----------

# $1 ref ("" to pull), then pairs (folder, token file or ""): every folder must be clean;
# then each is moved to the ref when it has it (a branch follows its upstream), else pulled
# (fast-forward only; a detached one is left as it is).
_MULTI_CHECKOUT = r"""
ref=$1; shift
set_token() { if [ -n "$1" ]; then DEVOPS_GIT_TOKEN_FILE=$1; export DEVOPS_GIT_TOKEN_FILE; fi; }
n=$#; i=0
while [ $i -lt $n ]; do
    f=$1 t=$2; shift 2; i=$((i + 2)); set -- "$@" "$f" "$t"
    if [ -n "$(git -C "$f" status --porcelain --untracked-files=no)" ]; then
        echo "$f has uncommitted changes: commit or stash them first." >&2
        git -C "$f" status --short --untracked-files=no >&2
        exit 1
    fi
done
while [ $# -ge 2 ]; do
    f=$1 t=$2; shift 2
    unset DEVOPS_GIT_TOKEN_FILE; set_token "$t"
    if [ -n "$ref" ]; then
        git -C "$f" -c credential.helper= fetch --quiet --all --tags --prune || exit $?
        if git -C "$f" rev-parse -q --verify "$ref^{commit}" >/dev/null ||
           git -C "$f" rev-parse -q --verify "origin/$ref^{commit}" >/dev/null; then
            git -C "$f" checkout --quiet "$ref" -- || exit $?
            if git -C "$f" rev-parse --abbrev-ref --symbolic-full-name '@{u}' >/dev/null 2>&1; then
                git -C "$f" merge --ff-only --quiet '@{u}' || exit $?
            fi
            git -C "$f" log --max-count=1 --format="$f: now at %h %s"
            continue
        fi
    fi
    if git -C "$f" symbolic-ref -q HEAD >/dev/null; then
        git -C "$f" -c credential.helper= pull --ff-only --quiet || exit $?
    fi
    git -C "$f" log --max-count=1 --format="$f: at %h %s"
done
"""


def multi_checkout_argv(pairs, ref=None):
    """Pull (or move to ``ref``) every repository of ``pairs`` [(folder, token file or "")],
    folders relative to the workspace (the command's directory)."""
    if ref:
        check_ref_name(ref)
    argv = ["/bin/sh", "-c", _MULTI_CHECKOUT, "devops-multi-checkout", ref or ""]
    for folder, token_file in pairs:
        argv += [folder, token_file or ""]
    return argv


_HEADS = r"""
for f in "$@"; do
    printf '%s\t%s\t%s\n' "$f" "$(git -C "$f" rev-parse HEAD 2>/dev/null)" \
        "$(git -C "$f" rev-parse --abbrev-ref HEAD 2>/dev/null)"
done
"""


def heads_argv(folders):
    """The commit and branch of each folder's repository: "folder TAB sha TAB branch"."""
    return ["/bin/sh", "-c", _HEADS, "devops-heads", *folders]


def parse_heads(text):
    """{folder: [sha, branch]} from ``heads_argv`` output (folders without a commit left out)."""
    heads = {}
    for row in text.split("\n"):
        parts = row.split("\t")
        if len(parts) == 3 and re.fullmatch(r"[0-9a-f]{40}", parts[1]):
            heads[parts[0]] = [parts[1], parts[2]]
    return heads


# Triples (folder, old, new): for each, a line "\036FOLDER" then its changed files, NUL-separated.
_MULTI_CHANGED = r"""
while [ $# -ge 3 ]; do
    f=$1 a=$2 b=$3; shift 3
    printf '\036%s\n' "$f"
    git -C "$f" diff --name-only -z "$a" "$b" --
done
"""


def multi_changed_argv(triples):
    argv = ["/bin/sh", "-c", _MULTI_CHANGED, "devops-multi-changed"]
    for folder, old, new in triples:
        for commit in (old, new):
            if not re.fullmatch(r"[0-9a-f]{40}", commit or ""):
                raise GitInputError(f"Not a commit id: {commit}")
        argv += [folder, old, new]
    return argv


def parse_multi_changed(text):
    """Paths relative to the workspace ("folder/path") from ``multi_changed_argv`` output."""
    paths, folder = [], None
    for chunk in text.split("\0"):
        while chunk.startswith("\036"):
            line, _newline, chunk = chunk.partition("\n")
            folder = line[1:]
        if chunk and folder is not None:
            paths.append(f"{folder}/{chunk}" if folder not in ("", ".") else chunk)
    return paths


def multi_rollback_argv(items):
    """Back to each [(folder, branch, commit)]: the branch (or a detached commit) reset hard
    at the commit."""
    script = (
        "while [ $# -ge 3 ]; do\n"
        "    f=$1 b=$2 c=$3; shift 3\n"
        '    git -C "$f" checkout --quiet "$b" && git -C "$f" reset --quiet --hard "$c" &&\n'
        '        git -C "$f" log -1 --format="$f: back at %h %s" || exit $?\n'
        "done\n"
    )
    argv = ["/bin/sh", "-c", script, "devops-multi-rollback"]
    for folder, branch, commit in items:
        if not re.fullmatch(r"[0-9a-f]{7,40}", commit or ""):
            raise GitInputError(f"Not a commit id: {commit}")
        target = commit if branch in (None, "", "HEAD") else check_ref_name(branch)
        argv += [folder, target, commit]
    return argv
