"""Plan: a change's branch in a workspace's repositories, and the stage its facts put it in.

- ``start_argv``: the change's branch in every repository, from its base branch (switched to
  when it exists already); prints the commit each one started from.
- ``facts_argv``: per repository, the branch's head, where it left its base, how many
  commits it has, the date of its first one, the paths it changed and the modules (folders
  with a ``__manifest__.py``) at its head.
- ``contains_argv``: which releases hold a change's head (``git merge-base --is-ancestor``).
- ``scaffold_argv``: write a new module's files in a repository on the change's branch and
  commit exactly them.
- ``stage``: from plain facts (the app's records), the furthest of the eight stages the change
  has reached, why, and whether it is blocked.

Every command is an argv list: values reach the scripts as positional parameters, never
inside the script's text.
"""

import datetime
import posixpath
import re

from .git import GitInputError, check_author, check_ref_name

SHA = re.compile(r"[0-9a-f]{40}")
MAX_PATHS = 2000
WHEN = "%Y-%m-%d %H:%M"
STAGES = ["plan", "code", "build", "test", "release", "deploy", "operate", "monitor"]


PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
RESERVED_PREFIXES = ("origin/", "refs/", "remotes/", "heads/", "tags/")


def check_branch(name):
    """A change's branch: what ``git check-ref-format --branch`` accepts, minus names that
    shadow other refs (``origin/main``, ``refs/...``) or a repository's usual bases."""
    check_ref_name(name)
    parts = name.split("/")
    if (
        name in ("HEAD", "main", "master", "@")
        or name.startswith(RESERVED_PREFIXES)
        or len(name) > 200
        or any(not part or part.startswith(".") or part.endswith(".lock") for part in parts)
    ):
        raise GitInputError(
            f"{name} cannot be a change's branch: give it one of its own, "
            "such as feature/my-change."
        )
    return name


def check_target(path):
    """A module's place in its repository: parts of letters, digits, '_', '.', '-', none
    starting with '.' (never .git) or '-'."""
    parts = path.split("/") if isinstance(path, str) else [None]
    if not all(isinstance(p, str) and PART.fullmatch(p) for p in parts):
        raise GitInputError(
            f"{path!r} is not a folder for a module: letters, digits, '_', '.' and '-', "
            "no part starting with '.' or '-'."
        )
    return path


def _check_folder(folder):
    if not isinstance(folder, str) or folder.startswith(("/", "-")) or ".." in folder.split("/"):
        raise GitInputError(f"Not a folder of the workspace: {folder!r}")
    return folder or "."


_START = r"""
branch=$1; shift
while [ $# -ge 2 ]; do
    f=$1 base=$2; shift 2
    from=HEAD
    if [ -n "$base" ]; then
        if git -C "$f" rev-parse --verify -q "refs/remotes/origin/$base" >/dev/null; then
            from="origin/$base"
        elif git -C "$f" rev-parse --verify -q "refs/heads/$base" >/dev/null; then
            from="$base"
        else
            echo "$f: no branch $base to start from." >&2; exit 3
        fi
    fi
    if git -C "$f" rev-parse --verify -q "refs/heads/$branch" >/dev/null; then
        git -C "$f" switch --quiet "$branch" || exit $?
        printf 'S\t%s\t%s\texisting\n' "$f" "$(git -C "$f" merge-base HEAD "$from")"
    else
        git -C "$f" switch --quiet --no-track --create "$branch" "$from" || exit $?
        printf 'S\t%s\t%s\tcreated\n' "$f" "$(git -C "$f" rev-parse HEAD)"
    fi
done
"""


def start_argv(branch, items):
    """Switch every [(folder, base branch or "")] to ``branch``, made from its base branch
    (``origin/<base>`` when fetched, else the local one; the current commit without a base)."""
    argv = ["/bin/sh", "-c", _START, "devops-plan-start", check_ref_name(branch)]
    for folder, base in items:
        argv += [_check_folder(folder), check_ref_name(base) if base else ""]
    return argv


def parse_start(text):
    """{folder: (base commit or "", "created"|"existing")}."""
    found = {}
    for row in text.split("\n"):
        parts = row.split("\t")
        if len(parts) == 4 and parts[0] == "S":
            found[parts[1]] = (parts[2] if SHA.fullmatch(parts[2]) else "", parts[3])
    return found


_FACTS = r"""
branch=$1 limit=$2; shift 2
while [ $# -ge 2 ]; do
    f=$1 base=$2; shift 2
    head=$(git -C "$f" rev-parse --verify -q "refs/heads/$branch^{commit}") || continue
    [ -n "$base" ] || base=$(git -C "$f" rev-parse --verify -q refs/remotes/origin/HEAD) ||
        base=$head
    fork=$(git -C "$f" merge-base "$head" "$base" 2>/dev/null) || fork=$head
    count=$(git -C "$f" rev-list --count "$fork..$head")
    first=$(git -C "$f" log --reverse --format=%aI "$fork..$head" | head -n 1)
    printf 'F\t%s\t%s\t%s\t%s\t%s\n' "$f" "$head" "$fork" "$count" "$first"
    git -C "$f" -c core.quotePath=false diff --name-only "$fork" "$head" -- | head -n "$limit" |
        while IFS= read -r p; do printf 'P\t%s\t%s\n' "$f" "$p"; done
    git -C "$f" -c core.quotePath=false ls-tree -r --name-only "$head" |
        grep -E '(^|/)__manifest__\.py$' |
        while IFS= read -r p; do printf 'M\t%s\t%s\n' "$f" "$p"; done
done
exit 0
"""


def facts_argv(branch, items):
    """Facts of ``branch`` in every [(folder, base)]: base is the commit the change started
    from (or a ref; "" for the remote's default branch)."""
    argv = ["/bin/sh", "-c", _FACTS, "devops-plan-facts", check_ref_name(branch), str(MAX_PATHS)]
    for folder, base in items:
        if base and not SHA.fullmatch(base):
            check_ref_name(base)
        argv += [_check_folder(folder), base or ""]
    return argv


def parse_facts(text):
    """{folder: {head, base, count, first, paths, modules}} (``first``: an aware datetime or
    None; ``modules``: the names of the modules the paths are in)."""
    repos, manifests = {}, {}
    for row in text.split("\n"):
        parts = row.split("\t")
        if parts[0] == "F" and len(parts) == 6 and SHA.fullmatch(parts[2]):
            try:
                first = datetime.datetime.fromisoformat(parts[5]) if parts[5] else None
            except ValueError:
                first = None
            repos[parts[1]] = {
                "head": parts[2],
                "base": parts[3] if SHA.fullmatch(parts[3]) else "",
                "count": int(parts[4]) if parts[4].isdigit() else 0,
                "first": first,
                "paths": [],
            }
        elif parts[0] == "P" and len(parts) == 3 and parts[1] in repos:
            repos[parts[1]]["paths"].append(parts[2])
        elif parts[0] == "M" and len(parts) == 3:
            manifests.setdefault(parts[1], []).append(parts[2])
    for folder, repo in repos.items():
        repo["modules"] = modules_of(repo["paths"], manifests.get(folder, []))
    return repos


def modules_of(paths, manifests):
    """The modules (folders of ``manifests``) that hold ``paths``, sorted."""
    roots = {posixpath.dirname(m) for m in manifests}
    found = set()
    for path in paths:
        folder = posixpath.dirname(path)
        while folder:
            if folder in roots:
                found.add(posixpath.basename(folder))
                break
            folder = posixpath.dirname(folder)
    return sorted(found)


_CONTAINS = r"""
while [ $# -ge 3 ]; do
    f=$1 a=$2 b=$3; shift 3
    if git -C "$f" merge-base --is-ancestor "$a" "$b" 2>/dev/null; then r=yes; else r=no; fi
    printf '%s\t%s\t%s\t%s\n' "$f" "$a" "$b" "$r"
done
"""


def contains_argv(triples):
    """For every (folder, head, commit): is ``head`` in ``commit``'s history?"""
    argv = ["/bin/sh", "-c", _CONTAINS, "devops-plan-contains"]
    for folder, head, commit in triples:
        if not (SHA.fullmatch(head or "") and SHA.fullmatch(commit or "")):
            raise GitInputError(f"Not a commit id: {head!r} {commit!r}")
        argv += [_check_folder(folder), head, commit]
    return argv


def parse_contains(text):
    """{(folder, head, commit): True/False}."""
    found = {}
    for row in text.split("\n"):
        parts = row.split("\t")
        if len(parts) == 4 and parts[3] in ("yes", "no"):
            found[(parts[0], parts[1], parts[2])] = parts[3] == "yes"
    return found


_SCAFFOLD = r"""
repo=$1 branch=$2 target=$3 message=$4 author=$5; shift 5
if [ -z "$(git -C "$repo" config --get user.name)" ] ||
   [ -z "$(git -C "$repo" config --get user.email)" ]; then
    e=${author##*<}; GIT_COMMITTER_NAME=${author% <*}; GIT_COMMITTER_EMAIL=${e%>}
    export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
fi
current=$(git -C "$repo" rev-parse --abbrev-ref HEAD) || exit $?
if [ "$current" != "$branch" ]; then
    echo "$repo is on $current, not on the change's branch $branch: Start the change first." >&2
    exit 3
fi
if [ -e "$repo/$target" ] || [ -L "$repo/$target" ]; then
    echo "$repo/$target exists already." >&2; exit 3
fi
# Never through a symbolic link (it could lead out of the repository), never in .git.
p=$repo
for c in $(printf '%s' "$target" | tr '/' ' '); do
    p="$p/$c"
    if [ -L "$p" ]; then echo "$p is a symbolic link: choose another folder." >&2; exit 3; fi
done
top=$(cd "$repo" && pwd -P) || exit $?
trap 'git -C "$top" reset --quiet -- "$target" 2>/dev/null; rm -rf -- "$top/$target"' EXIT
while [ $# -ge 2 ]; do
    p=$1 text=$2; shift 2
    mkdir -p "$(dirname -- "$repo/$target/$p")" || exit $?
    printf '%s' "$text" > "$repo/$target/$p" || exit $?
done
git -C "$repo" add -- "$target" &&
    git -C "$repo" commit --quiet --author="$author" -m "$message" -- "$target" || exit $?
trap - EXIT
git -C "$repo" log -1 --format='%H %s'
"""


def scaffold_argv(repo_folder, branch, target, files, message, author):
    """Write ``files`` {path: text} under ``target`` (relative to the repository
    ``repo_folder``) and commit them there, refused unless the repository is on ``branch``
    and ``target`` does not exist."""
    if target in ("", "."):
        raise GitInputError("The module needs a folder of its own.")
    target = check_target(_check_folder(target))
    if not (message or "").strip():
        raise GitInputError("The commit message is empty.")
    argv = ["/bin/sh", "-c", _SCAFFOLD, "devops-plan-scaffold", _check_folder(repo_folder),
            check_ref_name(branch), target, message, check_author(author)]  # fmt: skip
    for path, text in sorted(files.items()):
        argv += [check_target(_check_folder(path)), text]
    return argv


# --- The stage ---------------------------------------------------------------------------

# Why a change is where it is: templates (the models translate them), filled by ``stage``.
REASONS = {
    "no_workspace": "Not started: choose its workspaces, then click Start to make its branch.",
    "not_started": "Not started: click Start to make its branch in its workspaces.",
    "plan": "Started: no commit on its branch yet; scaffold a module or commit on it.",
    "code": "Commits on its branch; build it.",
    "build_failed": "The build of its head failed.",
    "new_commits": "New commits since the tests passed (%(passed)s): build and test again.",
    "build": "Built at its head; run the tests.",
    "test_failed": "Tests failed at its head (%(run)s).",
    "regression": "Regression: tests failed at its head (%(run)s) after passing (%(passed)s).",
    "test": "Tests passed at its head (%(run)s).",
    "release": "In release %(release)s: deploy it on staging.",
    "release_draft": "In release %(release)s, not approved yet: approve it once its tests "
    "pass, then deploy it on staging.",
    "release_failed": "In release %(release)s; deployment %(deployment)s failed.",
    "deploy": "Deployed on staging (%(deployment)s).",
    "operate": "Running on %(instance)s; Monitor after %(hours)s h without incident.",
    "operate_after_incident": "Incident %(incident)s ended %(ended)s; running on %(instance)s; "
    "Monitor after %(hours)s h without incident.",
    "incident_open": "Incident %(incident)s open on %(instance)s.",
    "monitor": "In production on %(instance)s without incident since %(since)s.",
}


def reason(key, params):
    """The English text of a reason."""
    return REASONS[key] % params


def stage(facts, now, window):
    """(stage code, reason key, reason params, blocked) from ``facts``:

    - ``workspaces``: it has workspaces; ``started``: its branch was made (by Start);
    - ``commits``: the change's branch has commits of its own;
    - ``build``: state of the latest build at its head ("done", "failed" or None);
    - ``test``: (state, name) of the latest finished test run at its head, or None;
    - ``passed_before``: name of a test run of the change that passed at an earlier head;
    - ``release``: name of a release holding the head (not cancelled), or None;
    - ``release_approved``: that release is approved (or released);
    - ``staging``: name of a successful staging deployment of such a release, or None;
    - ``deploy_failed``: name of the latest deployment of such a release if it failed;
    - ``production``: (since, instance name) when a production instance runs such a release;
    - ``incident``: (start, end or None, name) of the latest incident of that instance since;
    - ``now``, ``window``: Monitor once in production ``window`` without an incident.
    """
    production = facts.get("production")
    incident = facts.get("incident")
    if production:
        since, instance = production
        if incident and incident[1] is None:
            return "operate", "incident_open", {"incident": incident[2], "instance": instance}, True
        quiet = max(since, incident[1]) if incident else since
        if now - quiet >= window:
            return "monitor", "monitor", {"instance": instance, "since": f"{quiet:{WHEN}}"}, False
        params = {"instance": instance, "hours": f"{window.total_seconds() / 3600:g}"}
        if incident:
            params.update(incident=incident[2], ended=f"{incident[1]:{WHEN}}")
            return "operate", "operate_after_incident", params, False
        return "operate", "operate", params, False
    if facts.get("staging"):
        return "deploy", "deploy", {"deployment": facts["staging"]}, False
    if facts.get("release"):
        failed = facts.get("deploy_failed")
        if failed:
            params = {"release": facts["release"], "deployment": failed}
            return "release", "release_failed", params, True
        key = "release" if facts.get("release_approved") else "release_draft"
        return "release", key, {"release": facts["release"]}, False
    if not facts.get("commits"):
        if facts.get("started"):
            return "plan", "plan", {}, False
        return "plan", "not_started" if facts.get("workspaces") else "no_workspace", {}, False
    test, before = facts.get("test"), facts.get("passed_before")
    if test and test[0] == "passed":
        return "test", "test", {"run": test[1]}, False
    reached = "build" if facts.get("build") == "done" or test else "code"
    if test and before:
        return reached, "regression", {"run": test[1], "passed": before}, True
    if test:
        return reached, "test_failed", {"run": test[1]}, True
    if facts.get("build") == "failed":
        return "code", "build_failed", {}, True
    if reached == "build":
        return "build", "build", {}, False
    if before:
        return "code", "new_commits", {"passed": before}, False
    return "code", "code", {}, False
