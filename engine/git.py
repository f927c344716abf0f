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
        'm=$1; a=$2; shift 2; git --literal-pathspecs add -- "$@" && '
        'git --literal-pathspecs commit --author="$a" -m "$m" -- "$@"'
    )
    return ["/bin/sh", "-c", script, "devops-commit", message, check_author(author), *paths]


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
    return ["/bin/sh", "-c", _SOURCE, "devops-source", path, str(first), str(last), inside or ""]


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
