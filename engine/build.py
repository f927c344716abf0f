"""Builds of a workspace: a Python virtualenv at a set of commits, and what identifies it.

A build's *fingerprint* is a hash of what makes its environment: the commit of every
repository, the content of every requirement file (Odoo's ``requirements.txt``, each
module's), the external Python dependencies the manifests declare, the Python version and
the build pipeline itself.  Two builds with one fingerprint would install the same thing:
the second reuses the first.  ``facts_argv`` reads those facts on the machine (one run);
``fingerprint`` hashes them here.  The commands (virtualenv, pip, freeze) are argv lists
whose values are separate arguments.

Also here: a free TCP port on the machine (``free_port_argv``), and the Odoo configuration
file of a new instance (``odoo_config``), whose passwords reach the machine through the
executor's ``write_file`` (mode 600), never through a command line.
"""

import hashlib
import json
import re

from .validation import CONTROL

VENV_PREFIX = "venv-"
# A pip requirement as a manifest declares it: a distribution name, optional extras and
# version specifiers; nothing pip could read as an option, a path or a URL.
_REQUIREMENT = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}(\[[A-Za-z0-9._,-]+\])?"
    r"(\s*(==|!=|<=|>=|~=|<|>)\s*[A-Za-z0-9.*+!_-]{1,50}(\s*,\s*(==|!=|<=|>=|~=|<|>)\s*"
    r"[A-Za-z0-9.*+!_-]{1,50}){0,5})?"
)
_PYTHON = re.compile(r"[A-Za-z0-9_./+-]{1,255}")


class BuildInputError(ValueError):
    pass


# argv: python, then folders of repositories (absolute), "--", then requirement files
# (absolute).  Prints JSON: {"python": sys.version, "commits": {folder: sha or ""},
# "files": {path: sha256 or ""}}.
FACTS_SCRIPT = r"""
import hashlib, json, subprocess, sys
args = sys.argv[1:]
cut = args.index("--") if "--" in args else len(args)
folders, files = args[:cut], args[cut + 1:]
commits = {}
for folder in folders:
    try:
        out = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=30, check=False)
        commits[folder] = out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        commits[folder] = ""
hashes = {}
for path in files:
    try:
        with open(path, "rb") as handle:
            hashes[path] = hashlib.sha256(handle.read(4_000_000)).hexdigest()
    except OSError:
        hashes[path] = ""
print(json.dumps({"python": sys.version, "executable": sys.executable, "commits": commits,
                  "files": hashes}))
"""


def check_python(python):
    """The interpreter a build uses: a program name or a path, never an option."""
    if not isinstance(python, str) or not _PYTHON.fullmatch(python) or python.startswith("-"):
        raise BuildInputError(
            f"'{python}' is not a Python interpreter: give its name (python3, python3.12) or "
            "its absolute path."
        )
    return python


def facts_argv(python, folders, files):
    return [check_python(python), "-c", FACTS_SCRIPT, *folders, "--", *files]


def parse_facts(text):
    try:
        facts = json.loads(text)
    except ValueError as error:
        raise BuildInputError(f"Unexpected answer from the machine: {text[-300:]}") from error
    if not isinstance(facts, dict) or not isinstance(facts.get("commits"), dict):
        raise BuildInputError("Unexpected answer from the machine.")
    return facts


def requirement_problem(requirement):
    """None when ``requirement`` (from a manifest) may be given to pip, else why not."""
    if not isinstance(requirement, str) or not _REQUIREMENT.fullmatch(requirement.strip()):
        return f"'{requirement}' is not a pip requirement (a name and optional versions)."
    return None


def fingerprint(facts, requirements, pipeline, adopt_path=""):
    """The hex sha256 of what makes a build: ``facts`` (from ``facts_argv``), the external
    Python requirements of the manifests, the build pipeline's signature (any text), and the
    adopted virtualenv's path (empty when the build makes its own)."""
    material = {
        "python": facts.get("python", ""),
        "commits": sorted(facts.get("commits", {}).items()),
        "files": sorted(facts.get("files", {}).items()),
        "requirements": sorted(set(requirements)),
        "pipeline": pipeline,
        "adopt": adopt_path or "",
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def venv_path(workspace_path, fingerprint_hex):
    return f"{workspace_path.rstrip('/')}/.devops/{VENV_PREFIX}{fingerprint_hex[:16]}"


def venv_argv(python, path):
    """A new virtualenv at ``path`` (an older one there is removed first)."""
    script = 'rm -rf -- "$2" && "$1" -m venv -- "$2" && "$2/bin/python" --version'
    return ["/bin/sh", "-c", script, "devops-venv", check_python(python), path]


def check_venv_argv(path):
    """Is ``path`` a virtualenv with a Python and pip? Prints the Python version."""
    script = (
        '[ -x "$1/bin/python" ] || { echo "$1 has no bin/python: not a virtualenv." >&2; '
        'exit 3; }\n"$1/bin/python" --version && "$1/bin/python" -m pip --version'
    )
    return ["/bin/sh", "-c", script, "devops-venv-check", path]


def pip_install_argv(venv, requirement_files, requirements, options=()):
    """pip install the requirement files and the manifests' requirements into ``venv``."""
    argv = [f"{venv}/bin/python", "-m", "pip", "install", "--disable-pip-version-check"]
    argv += list(options)
    for path in requirement_files:
        argv += ["-r", path]
    for requirement in requirements:
        problem = requirement_problem(requirement)
        if problem:
            raise BuildInputError(problem)
        argv.append(requirement.strip())
    return argv


def freeze_argv(venv):
    return [f"{venv}/bin/python", "-m", "pip", "freeze", "--all", "--disable-pip-version-check"]


def remove_venv_argv(path):
    """Remove a virtualenv the app made (only a ``.devops/venv-…`` folder)."""
    if not re.search(r"/\.devops/" + VENV_PREFIX + r"[0-9a-f]{16}$", path or ""):
        raise BuildInputError(f"{path} is not a virtualenv of a build.")
    return ["rm", "-rf", "--", path]


def image_tag(workspace_id, fingerprint_hex):
    """The tag of a build's image: its workspace and the start of its fingerprint."""
    return f"erplibre-devops/workspace-{int(workspace_id)}:{fingerprint_hex[:16]}"


def image_build_argv(context, tag, fingerprint_hex):
    """docker build of the workspace folder ``context`` (its Dockerfile), tagged ``tag``
    and labelled with the whole fingerprint."""
    if not context.startswith("/"):
        raise BuildInputError("The build context is an absolute folder.")
    return ["docker", "build", "--tag", tag, "--label",
            f"erplibre-devops.fingerprint={fingerprint_hex}", "--file",
            f"{context.rstrip('/')}/Dockerfile", context]  # fmt: skip


def image_remove_argv(tag):
    if not re.fullmatch(r"erplibre-devops/workspace-\d+:[0-9a-f]{16}", tag or ""):
        raise BuildInputError(f"{tag} is not the image of a build.")
    return ["docker", "image", "rm", tag]


# $1 first port, $2 space-separated ports to leave out: prints the first port nobody
# listens on (bind test on all addresses), trying 200 ports.
FREE_PORT_SCRIPT = r"""
import socket, sys
start, taken = int(sys.argv[1]), {int(p) for p in sys.argv[2].split()}
for port in range(start, min(start + 200, 65536)):
    if port in taken:
        continue
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            continue
    print(port)
    break
"""


def free_port_argv(start=8069, taken=(), python="python3"):
    return [
        check_python(python),
        "-c",
        FREE_PORT_SCRIPT,
        str(int(start)),
        " ".join(str(int(p)) for p in taken),
    ]


def _config_value(name, value):
    text = str(value)
    if CONTROL.search(text):
        raise BuildInputError(f"The value of {name} may not contain control characters.")
    return text


def odoo_config(options):
    """The text of an Odoo configuration file: ``[options]`` then ``name = value`` lines
    (``options`` in order; None values left out).  Values are one line each."""
    lines = ["[options]"]
    for name, value in options.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "True" if value else "False"
        lines.append(f"{name} = {_config_value(name, value)}")
    return "\n".join(lines) + "\n"


# Set the password of the admin user to the configuration's admin_passwd: read from the
# file (mode 600), never from a command line.  argv: conf, database.
SET_ADMIN_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv.pop(1))  # the Odoo source tree, before any folder named odoo
import odoo
from odoo.tools import config
config.parse_config(["-c", sys.argv[1], "-d", sys.argv[2], "--no-http"])
registry = odoo.modules.registry.Registry(sys.argv[2])
with registry.cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    env.ref("base.user_admin").password = config["admin_passwd"]
print("admin password set")
"""


# $1 python, $2 odoo-bin, $3 configuration, $4 database, $5 modules, $6 demo (1/0), $7 language
# ("" for none), $8 the script that sets the admin password.
_INIT = r"""
py=$1 bin=$2 conf=$3 db=$4 mods=$5 demo=$6 lang=$7 setpw=$8
set -- "$bin" -c "$conf" -d "$db" -i "$mods" --stop-after-init --no-http
[ "$demo" = 1 ] || set -- "$@" --without-demo=all
[ -n "$lang" ] && set -- "$@" "--load-language=$lang"
echo "odoo-bin -d $db -i $mods"
"$py" "$@" || exit $?
exec "$py" -I -c "$setpw" "$(dirname -- "$bin")" "$conf" "$db"
"""
_LANG = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?(@[a-z]+)?")
_MODULE = re.compile(r"[A-Za-z0-9_]{1,100}")


def check_lang(lang):
    if lang and (not isinstance(lang, str) or not _LANG.fullmatch(lang)):
        raise BuildInputError(f"'{lang}' is not a language code such as fr_FR.")
    return lang or ""


def init_database_argv(python, odoo_bin, conf, database, modules, demo, lang=None):
    """Create and initialise ``database`` (base and ``modules``), then give its admin user
    the configuration's admin password (read from the file, not from a command line)."""
    names = ["base", *[m for m in modules if m != "base"]]
    bad = [m for m in names if not _MODULE.fullmatch(m)]
    if bad:
        raise BuildInputError(f"Not module names: {', '.join(bad)}")
    values = [python, odoo_bin, conf, database, ",".join(names), "1" if demo else "0"]
    return ["/bin/sh", "-c", _INIT, "devops-init", *values, check_lang(lang), SET_ADMIN_SCRIPT]
