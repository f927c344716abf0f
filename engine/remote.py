"""Workspaces cloned from a git remote, on this machine or over SSH: validators, argv builders
and parsers (the commands are built here and run later by an executor on the target machine).

Secrets (an SSH deploy key, an HTTPS token) never appear in an argv, in a URL (``check_url``
refuses credentials, so the URL git stores in ``.git/config`` holds none), in the environment
or in the output: they live in files of the target machine (``secret_files``, mode 600) and the
environment only names those files (``git_env``).  Git reads the token through a small
``GIT_ASKPASS`` script (``ASKPASS_SCRIPT``) and ssh reads the key with ``-i``.  Every git
command that may authenticate runs with ``-c credential.helper=``: a helper configured by the
user (``store``, ``cache``) would otherwise write the token to ``~/.git-credentials`` or answer
with another one.  Messages about a refused URL never repeat it: it may hold a secret.

SSH trust: ssh reads only the known_hosts file written for the repository (the server's key
scanned with ``keyscan_argv`` and accepted by a manager), checks it strictly and never asks;
an unknown or changed host key fails with "Host key verification failed".

Protocols: https, http, ssh and local paths (``file://`` or a plain absolute path) only
(``GIT_ALLOW_PROTOCOL``).  ``git://`` is refused: it is neither encrypted nor authenticated,
and the forges dropped it.  Remote helpers (``ext::``, ``fd::``) are refused: ``ext::`` runs
a command.
"""

import base64
import binascii
import posixpath
import re
import shlex
import urllib.parse
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import validation
from .git import GitInputError, check_ref_name
from .validation import CONTROL

GIT_ENV_BASE = {
    "GIT_TERMINAL_PROMPT": "0",  # never wait for a password on a terminal nobody watches
    "LC_ALL": "C",  # git's messages in English, whatever the machine's locale
    "GIT_ALLOW_PROTOCOL": "file:http:https:ssh",  # no ext::, fd::, git:// (nor in submodules)
    "GIT_CONFIG_NOSYSTEM": "1",  # /etc/gitconfig cannot add helpers or rewrite URLs
}
TOKEN_FILE_VAR = "DEVOPS_GIT_TOKEN_FILE"  # noqa: S105 - a variable name, not a password
TOKEN_USER_VAR = "DEVOPS_GIT_USER"  # noqa: S105 - a variable name, not a password
DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22}
MAX_DEPTH = 1_000_000
SECRET_DIR = ".devops"  # noqa: S105 - a folder of the workspace; never a clone (check_folder)
REDACTED = "***"

# GIT_ASKPASS: git runs it with the prompt as $1 and reads the answer on its stdout, up to the
# first line end (a token file with or without a final newline gives the same answer).
ASKPASS_SCRIPT = """#!/bin/sh
# erplibre-devops: git's GIT_ASKPASS.  Answers a "Username..." prompt with $DEVOPS_GIT_USER
# (x-access-token when unset) and any other prompt (the password) with the content of the file
# named by $DEVOPS_GIT_TOKEN_FILE.  The token is never in an argument or the environment.
case $1 in
    Username*) printf '%s\\n' "${DEVOPS_GIT_USER:-x-access-token}" ;;
    *) cat -- "$DEVOPS_GIT_TOKEN_FILE" ;;
esac
"""


class RemoteInputError(ValueError):
    """A value refused before it reaches a command; ``str()`` says what to do."""


class Remote(NamedTuple):
    """A parsed git URL.  ``kind`` is ssh, https, http or file; ``user`` is "" when none is
    given; ``host`` is "" for file and an IPv6 address has no brackets; ``port`` is the
    scheme's default when none is given (22 for scp-like ``user@host:path``), None for file."""

    kind: str
    user: str
    host: str
    port: int | None
    path: str


# --- Validators ------------------------------------------------------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# "<transport>::<address>" makes git run the remote helper git-remote-<transport>.
_TRANSPORT = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.-]*::")
# scp-like [user@]host:path, the host maybe an IPv6 address in brackets (git's own rule: a
# colon before any slash).
_SCP = re.compile(r"(?:(?P<user>[^@/:\[\]]*)@)?(?P<host>\[[^\]/]*\]|[^@/:\[\]]+):(?P<path>.*)")
_SPACE = re.compile(r"\s")
_URL_FORMS = (
    "write it like https://host/owner/repo.git, ssh://git@host/owner/repo.git, "
    "git@host:owner/repo.git or an absolute path such as /srv/git/repo.git"
)
_CREDENTIALS = (
    "The URL holds credentials (a user or token before '@'): remove them and put the token in "
    "the repository's token field instead. A URL is stored in .git/config and shown in logs."
)


def check_url(url):
    """The URL, unchanged, when git may clone it (see ``parse_url`` for the forms); else
    RemoteInputError."""
    _split_url(url)
    return url


def parse_url(url):
    """The :class:`Remote` of a URL that ``check_url`` accepts:

    - ``https://host[:port]/path`` and ``http://...`` (no credentials, query or fragment);
    - ``ssh://[user@]host[:port]/path`` and scp-like ``[user@]host:path`` (no "//");
    - ``file:///abs/path`` and a plain ``/abs/path`` (a repository of the target machine).

    A host is a name or an IP address (IPv6 in brackets); no path has a '..' segment."""
    return _split_url(url)


def _split_url(url):
    if not isinstance(url, str) or not url:
        raise RemoteInputError("The URL is empty: " + _URL_FORMS + ".")
    if CONTROL.search(url) or _SPACE.search(url):
        raise RemoteInputError("The URL may not contain spaces or control characters.")
    if url.startswith("-"):
        raise RemoteInputError("The URL may not start with '-': " + _URL_FORMS + ".")
    if _TRANSPORT.match(url):
        raise RemoteInputError(
            "'<transport>::' URLs (such as ext::) make git run other programs: " + _URL_FORMS + "."
        )
    if url.startswith("/"):
        return Remote("file", "", "", None, _check_local_path(url))
    scheme = _SCHEME.match(url)
    if scheme:
        return _split_scheme_url(url, scheme.group(1).lower())
    scp = _SCP.fullmatch(url)
    if scp:
        return _split_scp(scp)
    raise RemoteInputError("This is not a git URL: " + _URL_FORMS + ".")


def _check_local_path(path):
    problem = validation.check_absolute_path(path)
    if problem:
        raise RemoteInputError(str(problem))
    return path


def _split_scheme_url(url, scheme):
    if not url.startswith(scheme):  # git looks up "HTTPS" as a helper of that name
        raise RemoteInputError(f"Write the URL's scheme in lower case: {scheme}://")
    if scheme == "file":
        path = url[len("file://") :]
        if not path.startswith("/"):
            raise RemoteInputError(
                "A file URL names a folder of this machine: write it file:///srv/git/repo.git "
                "(three slashes, no host)."
            )
        return Remote("file", "", "", None, _check_local_path(path))
    if scheme in ("git+ssh", "ssh+git"):
        raise RemoteInputError(f"Write {scheme}:// URLs as ssh:// (the same protocol).")
    if scheme == "git":
        raise RemoteInputError(
            "git:// is neither encrypted nor authenticated: use the https:// or ssh:// URL of "
            "the repository."
        )
    if scheme not in DEFAULT_PORTS:
        raise RemoteInputError(f"'{scheme}://' URLs are not supported: " + _URL_FORMS + ".")
    if "?" in url or "#" in url:
        raise RemoteInputError(
            "The URL has a query ('?...') or a fragment ('#...'): remove it. A token goes in "
            "the repository's token field."
        )
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as error:  # such as brackets around something else than an address
        raise RemoteInputError("This is not a valid URL: " + _URL_FORMS + ".") from error
    user = _url_user(parts, scheme)
    host = _url_host(parts)
    try:
        port = parts.port
    except ValueError as error:
        raise RemoteInputError(
            "The port of the URL is not a number from 1 to 65535: correct it."
        ) from error
    problem = validation.check_port(port) if port is not None else None
    if problem:
        raise RemoteInputError(str(problem))
    if parts.path in ("", "/"):
        raise RemoteInputError("The URL names no repository: " + _URL_FORMS + ".")
    _check_segments(parts.path)
    return Remote(scheme, user, host, port or DEFAULT_PORTS[scheme], parts.path)


def _url_user(parts, scheme):
    userinfo, at, _hostport = parts.netloc.rpartition("@")
    if not at:
        return ""
    if scheme != "ssh":
        raise RemoteInputError(_CREDENTIALS)
    if ":" in userinfo:
        raise RemoteInputError(
            "An SSH URL takes no password: remove it (the part after ':' before '@') and use "
            "a deploy key."
        )
    return _check_user(userinfo)


def _check_user(user):
    if not user:
        raise RemoteInputError("The URL has an empty user before '@': remove the '@' or add one.")
    problem = validation.check_user_name(user)
    if problem:
        raise RemoteInputError(str(problem))
    return user


def _url_host(parts):
    hostport = parts.netloc.rpartition("@")[2]
    host = parts.hostname or ""
    return _check_url_host(f"[{host}]" if hostport.startswith("[") else host)


def _check_url_host(host):
    """The host of a URL (an IPv6 address in brackets), returned without brackets."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host != bare and ":" not in bare:
        raise RemoteInputError(
            f"'{host}': only an IPv6 address goes in brackets; write a host name without them."
        )
    problem = validation.check_host(host)
    if problem:
        raise RemoteInputError(str(problem))
    return bare


def _check_segments(path):
    if any(urllib.parse.unquote(segment) == ".." for segment in path.split("/")):
        raise RemoteInputError(
            "The URL's path contains a '..' segment: write the repository's path without it."
        )


def _split_scp(match):
    user = match.group("user")
    path = match.group("path")
    if match.group("host").lower() in ("http", "https", "ssh", "file", "git"):
        raise RemoteInputError(
            f"Write the scheme with two slashes: {match.group('host')}://host/path"
        )  # git would read "https:/h/x" as the ssh host "https"
    host = _check_url_host(match.group("host"))
    if not path:
        raise RemoteInputError("The URL names no repository after ':': " + _URL_FORMS + ".")
    if path.startswith("-"):
        raise RemoteInputError("The repository path may not start with '-'.")
    _check_segments(path)
    return Remote("ssh", _check_user(user) if user is not None else "", host, 22, path)


_FOLDER_NAME = re.compile(r"[A-Za-z0-9_.+@-]{1,100}")


def check_folder(folder):
    """A clone's folder relative to the workspace, normalized ("" for the workspace folder
    itself, given as "" or ".").  Refused: absolute paths, '..', a segment starting with '-',
    a '.git' segment, backslashes, control characters, and the workspace's .devops folder."""
    if folder is None:
        folder = ""
    if not isinstance(folder, str):
        raise RemoteInputError("The folder must be text: a path relative to the workspace.")
    if CONTROL.search(folder):
        raise RemoteInputError("The folder contains a control character (such as a newline).")
    if "\\" in folder:
        raise RemoteInputError("The folder may not contain '\\': separate folders with '/'.")
    if folder.startswith("/"):
        raise RemoteInputError(
            f"The folder '{folder}' is absolute: write it relative to the workspace "
            "(such as addons/oca), or '.' for the workspace folder itself."
        )
    segments = [segment for segment in folder.split("/") if segment not in ("", ".")]
    for segment in segments:
        if segment == "..":
            raise RemoteInputError(
                f"The folder '{folder}' contains '..': a clone stays inside the workspace."
            )
        if segment.startswith("-"):
            raise RemoteInputError(f"A folder name may not start with '-': {folder}")
        if segment.lower() == ".git":
            raise RemoteInputError(
                f"The folder '{folder}' is inside a .git folder: choose another."
            )
        if not _FOLDER_NAME.fullmatch(segment):
            raise RemoteInputError(
                f"'{segment}' is not a folder name the app uses: letters, digits and . _ + @ -"
                " (at most 100 characters per folder)."
            )
    if len(segments) > 20:
        raise RemoteInputError("The folder is more than 20 levels deep.")
    if segments and segments[0] == SECRET_DIR:
        raise RemoteInputError(
            f"The folder {SECRET_DIR} holds the workspace's keys and tokens: choose another."
        )
    return "/".join(segments)


def check_branch(name):
    """A branch (or tag) name, or None for the remote's default branch (None or "")."""
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        raise RemoteInputError("The branch name must be text.")
    try:
        return check_ref_name(name)
    except GitInputError as error:
        raise RemoteInputError(str(error)) from error


def check_depth(depth):
    """None (also for 0) for the full history, else the number of commits to fetch."""
    if depth is None:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
        raise RemoteInputError(
            f"The depth must be a whole number from 1 to {MAX_DEPTH}, or 0 for the full history."
        )
    return depth or None


# --- Git's environment and the secret files -----------------------------------------------

# ssh reads -i and the -o file options itself, with "%" tokens, "~" and quotes: paths that
# hold any of these (or spaces, which split a file list) would name another file.
_SSH_UNSAFE = re.compile(r"[\s\"'\\%#]")


def _ssh_path(path, what):
    _check_local_path(path)
    if _SSH_UNSAFE.search(path):
        raise RemoteInputError(
            f"The {what} path '{path}' holds a character ssh reads specially (a space, a quote, "
            "'\\', '%' or '#'): choose a workspace path without them."
        )
    return path


def git_env(ssh_key_path=None, known_hosts_path=None, askpass_path=None, token_path=None,
            token_user=None):  # fmt: skip
    """The environment of a git command that talks to a remote: ``GIT_ENV_BASE``, plus
    ``GIT_SSH_COMMAND`` (with a key and/or a known_hosts file) and ``GIT_ASKPASS`` (with the
    askpass script and the token file).  Only paths: never a secret.  ``token_user`` is the
    login sent with the token (``x-access-token`` when None; Bitbucket wants the real user)."""
    env = dict(GIT_ENV_BASE)
    if ssh_key_path or known_hosts_path:
        if not known_hosts_path:
            raise RemoteInputError(
                "An SSH key needs the server's host key: scan it and accept it first."
            )
        argv = ["ssh"]
        if ssh_key_path:
            argv += ["-i", _ssh_path(ssh_key_path, "key"), "-o", "IdentitiesOnly=yes"]
        argv += [
            "-o", "IdentityAgent=none",
            "-o", "UserKnownHostsFile=" + _ssh_path(known_hosts_path, "known_hosts"),
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=20",
        ]  # fmt: skip
        env["GIT_SSH_COMMAND"] = shlex.join(argv)  # git runs it through a shell
    if askpass_path or token_path:
        if not (askpass_path and token_path):
            raise RemoteInputError("A token needs both the askpass script and the token file.")
        env["GIT_ASKPASS"] = _check_local_path(askpass_path)
        env[TOKEN_FILE_VAR] = _check_local_path(token_path)
        if token_user:
            env[TOKEN_USER_VAR] = _check_token_user(token_user)
    return env


def _check_token_user(user):
    if not isinstance(user, str) or CONTROL.search(user) or _SPACE.search(user) or "@" in user:
        raise RemoteInputError(
            "The token's user name may not contain spaces, '@' or control characters."
        )
    return user


# $1 how many files follow, the files, then the command: run it, then remove the files
# whatever happened (a secret lives on the machine only while git needs it).
_WITH_SECRETS = r"""
n=$1; shift
files=
while [ "$n" -gt 0 ]; do files="$files$1
"; shift; n=$((n - 1)); done
cleanup() {
    printf '%s' "$files" | while IFS= read -r f; do [ -n "$f" ] && rm -f -- "$f"; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP
"$@"
"""


def with_secret_files(argv, paths):
    """``argv`` run so that the files ``paths`` (secrets written for it) are removed when
    it ends, even when it fails or is stopped."""
    paths = [path for path in paths if path]
    if not paths:
        return list(argv)
    for path in paths:
        _check_local_path(path)
    return ["/bin/sh", "-c", _WITH_SECRETS, "devops-secrets", str(len(paths)), *paths, *argv]


def secret_dir(workspace_path):
    """The folder of the workspace's git secrets on its machine (the owner makes it mode 700;
    a clone into the workspace folder itself lists it in .git/info/exclude)."""
    return posixpath.join(_workspace(workspace_path), SECRET_DIR, "git")


def secret_files(workspace_path, repo_id):
    """The paths of one repository's secret files, and of the shared askpass script:
    ``{"key", "known_hosts", "token", "askpass"}``."""
    if isinstance(repo_id, bool) or not isinstance(repo_id, int) or repo_id < 1:
        raise RemoteInputError("A repository id is a positive whole number.")
    folder = secret_dir(workspace_path)
    return {
        "key": f"{folder}/repo-{repo_id}.key",
        "known_hosts": f"{folder}/repo-{repo_id}.known_hosts",
        "token": f"{folder}/repo-{repo_id}.token",
        "askpass": f"{folder}/askpass.sh",
    }


def _workspace(path):
    _check_local_path(path)
    return validation.normalize_path(path)


# --- Commands ------------------------------------------------------------------------------

# "<sha> <branch>" of the repository in $1: sha "-" before the first commit, branch "HEAD"
# when detached.
_SHOW_HEAD = r"""
show_head() {
    sha=$(git -C "$1" rev-parse -q --verify HEAD) || sha=-
    ref=$(git -C "$1" symbolic-ref -q --short HEAD) || ref=HEAD
    printf '%s %s\n' "$sha" "$ref"
}
"""

# $1 URL, $2 folder ("." for the workspace folder), $3 branch ("" for the remote's default),
# $4 depth ("" for the full history); run in the workspace folder.
_CLONE = (
    _SHOW_HEAD
    + r"""
url=$1 dir=$2 branch=$3 depth=$4
ignored=
where=$dir
if [ "$dir" = . ]; then ignored=.devops where="The workspace folder"; fi

# The workspace's own repository never lists .devops/ (keys, tokens) as files to commit.
exclude_secrets() {
    ex=$(git rev-parse --git-path info/exclude) || return 0
    mkdir -p -- "$(dirname -- "$ex")" || return 0
    grep -qxF /.devops/ "$ex" 2>/dev/null || printf '/.devops/\n' >> "$ex"
}

# True when folder $1 holds nothing but (maybe) the entry $2.
only_entry() {
    for e in "$1"/.[!.]* "$1"/..?* "$1"/*; do
        if [ -e "$e" ] || [ -L "$e" ]; then [ "${e##*/}" = "$2" ] || return 1; fi
    done
    return 0
}

if [ -e "$dir" ] || [ -L "$dir" ]; then
    if [ ! -d "$dir" ]; then
        echo "$where exists and is not a folder: move it away or choose another folder." >&2
        exit 3
    fi
    if [ -e "$dir/.git" ]; then
        if ! prefix=$(git -C "$dir" rev-parse --show-prefix 2>/dev/null); then
            echo "$where holds a .git that git cannot read:" >&2
            git -C "$dir" rev-parse --show-prefix >/dev/null
            exit 3
        fi
        if [ -z "$prefix" ]; then  # the top of a work tree: adopted as it is
            origin=$(git -C "$dir" config --get remote.origin.url) || origin=
            if [ "$origin" != "$url" ]; then
                # credentials in that URL (user:token@) are not shown
                shown=$(printf '%s\n' "$origin" |
                    sed 's#^\([A-Za-z][A-Za-z0-9+.-]*://\)[^/]*@#\1***@#')
                printf 'adopted-other-origin %s\n' "${shown:--}"
            fi
            if [ "$dir" = . ]; then exclude_secrets; fi
            printf 'adopted %s\n' "$(show_head "$dir")"
            exit 0
        fi
    fi
    if ! only_entry "$dir" "$ignored"; then
        echo "$where exists and is not a git repository:" \
            "move it away or choose another folder." >&2
        exit 3
    fi
fi

set -- --progress
if [ -n "$depth" ]; then set -- "$@" --depth "$depth"; fi
if [ -n "$branch" ]; then set -- "$@" --single-branch --branch "$branch"; fi
if [ "$dir" = . ]; then
    # git clones only into an empty folder, and this one may hold .devops/ (the key this
    # clone needs): clone into .devops without a checkout, then move .git here and check out.
    mkdir -p -m 700 .devops || exit 1
    tmp=.devops/clone.$$
    rm -rf -- "$tmp"
    git -c credential.helper= clone --no-checkout "$@" -- "$url" "$tmp" || {
        status=$?
        rm -rf -- "$tmp"
        exit $status
    }
    mv -- "$tmp/.git" .git && rmdir -- "$tmp" || exit 1
    if git rev-parse -q --verify HEAD >/dev/null; then git reset -q --hard || exit $?; fi
    exclude_secrets
else
    mkdir -p -- "$(dirname -- "$dir")" || exit 1
    git -c credential.helper= clone "$@" -- "$url" "$dir" || exit $?
fi
printf 'cloned %s\n' "$(show_head "$dir")"
"""
)


def _dir(folder):
    """The argument naming a checked folder in commands run in the workspace folder."""
    return check_folder(folder) or "."


def clone_argv(url, folder, branch=None, depth=None):
    """Clone ``url`` into ``folder`` of the workspace (run in the workspace folder), or adopt
    the repository already there.  Prints, for ``parse_clone_output``:

    - ``adopted <sha> <branch>`` when the folder is already a git work tree (its top): it is
      kept as it is, nothing is fetched; before it, ``adopted-other-origin <url>`` when its
      origin is not ``url`` (credentials in that URL shown as ``***``);
    - ``cloned <sha> <branch>`` after a clone; the folder and its parents are made.

    A folder that exists, is not a git work tree and is not empty is refused with exit status
    3 (for the workspace folder itself, its .devops folder does not count).  With a branch,
    only that branch is fetched (``--single-branch``); with a depth and no branch, git fetches
    only the default branch.  A depth is ignored for a plain local path (git copies the
    objects): use a file:// URL.  ``origin`` in .git/config is exactly ``url``."""
    depth = check_depth(depth)
    argv = ["/bin/sh", "-c", _CLONE, "devops-clone", check_url(url), _dir(folder)]
    return [*argv, check_branch(branch) or "", str(depth) if depth else ""]


def parse_clone_output(text):
    """``{"action": "cloned" | "adopted", "sha", "branch", "other_origin"}`` from
    ``clone_argv`` output (sha "" before the first commit, branch "HEAD" when detached,
    other_origin None unless an adopted repository has another origin), or None when the
    output has no such line."""
    other = None
    for row in text.split("\n"):
        parts = row.split(" ")
        if parts[0] == "adopted-other-origin" and len(parts) == 2:
            other = "" if parts[1] == "-" else parts[1]
        elif parts[0] in ("cloned", "adopted") and len(parts) == 3:
            sha = "" if parts[1] == "-" else parts[1]
            return {"action": parts[0], "sha": sha, "branch": parts[2], "other_origin": other}
    return None


def fetch_argv(folder):
    """Fetch the clone in ``folder`` (pruning deleted remote branches)."""
    return ["git", "-C", _dir(folder), "-c", "credential.helper=", "fetch", "--prune",
            "--progress"]  # fmt: skip


def head_argv(folder):
    """``<sha> <branch>`` of the clone in ``folder`` (``parse_head``); fails outside a
    repository."""
    script = _SHOW_HEAD + 'git -C "$1" rev-parse --git-dir >/dev/null || exit $?\nshow_head "$1"\n'
    return ["/bin/sh", "-c", script, "devops-head", _dir(folder)]


def parse_head(text):
    """``(sha, branch)`` from ``head_argv`` output: sha "" before the first commit, branch
    "HEAD" when detached; None when there is no such line."""
    for row in text.split("\n"):
        parts = row.split()
        if len(parts) == 2:
            return ("" if parts[0] == "-" else parts[0]), parts[1]
    return None


def rev_parse_argv(folder, ref="HEAD"):
    """The commit id ``ref`` (a branch, a tag, HEAD) points at in the clone in ``folder``."""
    return ["git", "-C", _dir(folder), "rev-parse", "-q", "--verify",
            (check_branch(ref) or "HEAD") + "^{commit}"]  # fmt: skip


def ls_remote_argv(url, branch=None):
    """What the remote has: with ``branch``, that branch and a tag of that name; without,
    HEAD and the branch it points at (``parse_ls_remote``)."""
    branch = check_branch(branch)
    patterns = [f"refs/heads/{branch}", f"refs/tags/{branch}"] if branch else ["HEAD"]
    return ["git", "-c", "credential.helper=", "ls-remote", "--symref", "--", check_url(url),
            *patterns]  # fmt: skip


def parse_ls_remote(text):
    """``{"refs": {ref: sha}, "head": default branch or ""}`` from ``ls_remote_argv``."""
    found = {"refs": {}, "head": ""}
    for row in text.split("\n"):
        left, tab, ref = row.partition("\t")
        if not tab:
            continue
        if left.startswith("ref: ") and ref == "HEAD":
            found["head"] = left[len("ref: ") :].removeprefix("refs/heads/")
        elif re.fullmatch(r"[0-9a-f]{40,64}", left):
            found["refs"][ref] = left
    return found


# --- SSH host keys ------------------------------------------------------------------------

KEY_TYPES = ("ed25519", "ecdsa", "rsa")  # preference order


def _key_rank(key_type):
    if key_type == "ssh-ed25519":
        return 0
    if key_type.startswith("ecdsa-sha2-nistp"):
        return 1
    if key_type == "ssh-rsa":
        return 2
    return None


def _ssh_host(host, port):
    """A host for ssh tools (an IPv6 address without brackets) and a checked port."""
    if not isinstance(host, str):
        raise RemoteInputError("The host is empty: enter a host name or an IP address.")
    bare = _check_url_host(host if host.startswith("[") or ":" not in host else f"[{host}]")
    problem = validation.check_port(port)
    if problem:
        raise RemoteInputError(str(problem))
    return bare


def keyscan_argv(host, port=22):
    """Ask the server for its host keys (``parse_keyscan``); ssh-keyscan takes ``--`` before
    the host, which is checked too."""
    host = _ssh_host(host, port)
    return ["ssh-keyscan", "-T", "10", "-p", str(port), "-t", ",".join(KEY_TYPES), "--", host]


def _key_fields(key_type, data):
    if _key_rank(key_type) is None:
        return None
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not decoded.startswith(len(key_type).to_bytes(4, "big") + key_type.encode()):
        return None  # the key's blob names its own type
    return f"{key_type} {data}"


def parse_keyscan(text):
    """The ``"type base64"`` lines of ``keyscan_argv`` output, ed25519 first, then ecdsa,
    then rsa; comments and other key types are left out."""
    found = []
    for row in text.split("\n"):
        parts = row.split()
        if len(parts) < 3 or parts[0].startswith("#"):
            continue
        line = _key_fields(parts[1], parts[2])
        if line and line not in found:
            found.append(line)
    return sorted(found, key=lambda line: _key_rank(line.split()[0]))


def known_hosts_line(host, port, key_line):
    """The known_hosts line pinning ``key_line`` (``"type base64"``) for ``host``:
    ``host type base64`` on port 22, ``[host]:port type base64`` on another."""
    host = _ssh_host(host, port)
    parts = key_line.split() if isinstance(key_line, str) and not CONTROL.search(key_line) else []
    line = _key_fields(parts[0], parts[1]) if len(parts) >= 2 else None
    if not line:
        raise RemoteInputError(
            "A host key reads 'TYPE BASE64' (ssh-ed25519, ecdsa-sha2-nistp256 or ssh-rsa)."
        )
    return f"{host if port == 22 else f'[{host}]:{port}'} {line}"


# --- Deploy keys --------------------------------------------------------------------------


def generate_deploy_key(comment="erplibre-devops"):
    """A new ed25519 key pair: ``(private key in OpenSSH format, no passphrase; public line
    "ssh-ed25519 AAAA... comment")``.  Add the public line to the repository's deploy keys."""
    if not isinstance(comment, str) or CONTROL.search(comment) or len(comment) > 200:
        raise RemoteInputError("The key's comment is one line of at most 200 characters.")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    return private, f"{public} {comment}".rstrip()


# --- git-aggregator's repos.yaml ----------------------------------------------------------

_COMMIT = re.compile(r"[0-9a-f]{7,40}")
_UNSUPPORTED_DEFAULTS = ("shallow-since", "shallow-exclude")


def parse_repos_yaml(data):
    """The clones a git-aggregator ``repos.yaml`` describes, from its parsed mapping
    (``yaml.safe_load``): ``[{"folder", "url", "branch", "depth", "warnings": [...]}]``.

    Each folder gets the first merge only: its remote's URL and its ref as the branch (a
    commit id or a ``refs/...`` ref cannot be cloned as a branch: the default branch is
    cloned, with a warning).  The depth is the merge's, else ``defaults: depth``.  Further
    merges, ``shell_command_after``, a ``target`` branch and shallow-since/shallow-exclude are
    not applied: each gives a warning.  ``git+ssh://`` URLs are written ``ssh://`` (a
    warning).  The values used are checked like any other (``check_folder``, ``check_url``,
    ``check_branch``, ``check_depth``); a bad entry raises RemoteInputError naming its
    folder."""
    if not isinstance(data, dict) or not data:
        raise RemoteInputError(
            "repos.yaml holds no repository: it maps folders to their remotes and merges."
        )
    found, seen = [], {}
    for key, entry in data.items():
        name = str(key)
        try:
            repo = _aggregated_repo(key, entry)
        except RemoteInputError as error:
            raise RemoteInputError(f"repos.yaml, {name}: {error}") from error
        if repo["folder"] in seen:
            raise RemoteInputError(
                f"repos.yaml: {name} and {seen[repo['folder']]} are the same folder."
            )
        seen[repo["folder"]] = name
        found.append(repo)
    return found


def _aggregated_repo(key, entry):
    if not isinstance(key, str):
        raise RemoteInputError("A folder name must be text.")
    folder = check_folder(key)
    if not isinstance(entry, dict):
        raise RemoteInputError("An entry holds 'remotes' and 'merges'.")
    remotes = entry.get("remotes")
    if not isinstance(remotes, dict) or not remotes:
        raise RemoteInputError("No remotes: add 'remotes', a mapping of names to URLs.")
    warnings = []
    merges = entry.get("merges")
    if not isinstance(merges, list) or not merges:
        raise RemoteInputError("No merges: add 'merges', such as '- origin 18.0'.")
    remote_name, ref, merge_depth = _first_merge(merges[0])
    if remote_name not in remotes:
        raise RemoteInputError(f"The merge's remote '{remote_name}' is not in 'remotes'.")
    url = _aggregated_url(remotes[remote_name], warnings)
    branch = _aggregated_branch(ref, warnings)
    defaults = entry.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise RemoteInputError("'defaults' is a mapping, such as 'depth: 1'.")
    depth = merge_depth if merge_depth is not None else defaults.get("depth")
    if isinstance(depth, str) and depth.isdigit():
        depth = int(depth)
    depth = check_depth(depth)
    if len(merges) > 1:
        warnings.append(f"{len(merges)} merges: only the first is cloned.")
    target = str(entry.get("target") or "").split()
    if target and target[-1] != branch:
        warnings.append(
            f"The target branch '{target[-1]}' is not made: the clone is on the first merge."
        )
    if entry.get("shell_command_after"):
        warnings.append("shell_command_after is not run: run it yourself if it is needed.")
    for option in _UNSUPPORTED_DEFAULTS:
        if defaults.get(option):
            warnings.append(f"{option} is not applied: the clone uses the depth only.")
    return {"folder": folder, "url": url, "branch": branch, "depth": depth, "warnings": warnings}


def _first_merge(merge):
    """(remote name, ref, depth or None) of a merge: "remote ref" or a mapping."""
    if isinstance(merge, str):
        parts = merge.split()
        if len(parts) != 2:
            raise RemoteInputError("A merge reads 'remote ref', such as 'origin 18.0'.")
        return parts[0], parts[1], None
    if isinstance(merge, dict) and merge.get("remote") is not None and merge.get("ref"):
        return str(merge["remote"]), str(merge["ref"]), merge.get("depth")
    raise RemoteInputError("A merge reads 'remote ref', or is a mapping with remote and ref.")


def _aggregated_url(url, warnings):
    if not isinstance(url, str) or not url:
        raise RemoteInputError("The merge's remote has no URL.")
    if "$" in url:
        raise RemoteInputError(
            "The URL holds an environment variable ('$'): write its value (a token goes in "
            "the repository's token field)."
        )
    for alias in ("git+ssh://", "ssh+git://"):
        if url.lower().startswith(alias):
            url = "ssh://" + url[len(alias) :]
            warnings.append(f"The {alias} URL is written ssh://, the same protocol.")
    return check_url(url)


def _aggregated_branch(ref, warnings):
    if _COMMIT.fullmatch(ref) or ref.startswith("refs/"):
        warnings.append(
            f"The first merge is '{ref}', not a branch: the remote's default branch is cloned; "
            "check it out afterwards."
        )
        return None
    return check_branch(ref)


# --- Output ----------------------------------------------------------------------------------


def redact(text, secrets):
    """``text`` with every secret of 4 characters or more replaced by ``***`` (the longest
    first, so that a secret holding another is hidden whole)."""
    if not text:
        return text
    hidden = {secret for secret in secrets or () if isinstance(secret, str) and len(secret) >= 4}
    for secret in sorted(hidden, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
