"""Validation of user input that later reaches a command line, a path or a socket.

Every function returns ``None`` when the value is acceptable and otherwise a
:class:`Problem`: an English sentence template that says what is wrong and what
to do, with its parameters.  ``str(problem)`` is the English text; the Odoo
models translate the template (it is marked with ``_`` so Odoo's term export
finds it) and raise it as a ``ValidationError``.  The engine calls the same
functions before it runs anything, so a value that slipped past the UI (RPC,
import, SQL) is still refused before it reaches a process.
"""

# The engine never imports odoo: "_" below only marks messages for Odoo's term export, and the
# models translate them with self.env._ (pylint-odoo's prefer-env-translation cannot apply).
# pylint: disable=prefer-env-translation
import ipaddress
import re
import urllib.parse
from typing import NamedTuple


def _(template):
    """Mark a message for Odoo's translation export; the caller translates it."""
    return template


class Problem(NamedTuple):
    template: str
    params: dict

    def __str__(self):
        return self.template % self.params if self.params else self.template


def _problem(template, **params):
    return Problem(template, params)


# RFC 1123 host names: labels of letters, digits and inner hyphens.
_HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# POSIX portable user names (useradd's default rule), no leading hyphen.
_USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?")
# Control characters, C1 controls (U+0085 is a line end for str.splitlines) and the Unicode
# line and paragraph separators: none belongs in a one-line value.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_port(port):
    """A TCP port: an integer from 1 to 65535."""
    if isinstance(port, bool) or not isinstance(port, int):
        return _problem(_("The port must be a whole number from 1 to 65535."))
    if not 1 <= port <= 65535:
        return _problem(
            _("The port %(port)s is out of range: use a number from 1 to 65535."), port=port
        )
    return None


def check_host(host):
    """A host name or an IP address, never something a command could read as an option."""
    if not isinstance(host, str) or not host.strip():
        return _problem(_("The host is empty: enter a host name or an IP address."))
    if host != host.strip():
        return _problem(_("The host has leading or trailing spaces: remove them."))
    if CONTROL.search(host) or " " in host:
        return _problem(_("The host may not contain spaces or control characters."))
    if host.startswith("-"):
        return _problem(_("The host may not start with '-'."))
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if _is_ip_address(candidate):
        return None
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in name.split(".")):
        return _problem(
            _(
                "'%(host)s' is not a valid host name or IP address: use letters, digits, "
                "hyphens and dots (for example server.example.com or 192.0.2.10)."
            ),
            host=host,
        )
    return None


def _is_ip_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_user_name(user):
    """A login name on a remote machine."""
    if not user:
        return None
    if not isinstance(user, str) or not _USER_NAME.fullmatch(user):
        return _problem(
            _(
                "'%(user)s' is not a valid user name: use letters, digits, '_', '.' "
                "and '-', not starting with '-' or '.'."
            ),
            user=user,
        )
    return None


def check_absolute_path(path):
    """An absolute POSIX path with no NUL, no control character and no '..' segment."""
    if not isinstance(path, str) or not path:
        return _problem(_("The path is empty: enter an absolute path such as /home/odoo/erplibre."))
    if "\x00" in path:
        return _problem(_("The path contains a NUL character."))
    if CONTROL.search(path):
        return _problem(_("The path contains a control character (such as a newline): remove it."))
    if not path.startswith("/"):
        return _problem(
            _("The path '%(path)s' is relative: enter an absolute path, starting with '/'."),
            path=path,
        )
    if ".." in path.split("/"):
        return _problem(
            _("The path '%(path)s' contains a '..' segment: enter the path without it."), path=path
        )
    return None


def normalize_path(path):
    """Collapse repeated slashes and drop a trailing slash and '.' segments; keeps '/'."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


def check_url(url):
    """An http(s) URL with a host and, if given, a port from 1 to 65535; no spaces or
    control characters."""
    if not isinstance(url, str) or not url:
        return _problem(_("The URL is empty."))
    if CONTROL.search(url) or " " in url:
        return _problem(_("The URL may not contain spaces or control characters."))
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return _problem(
            _(
                "'%(url)s' is not a valid URL: write it like http://host:8069/web/health "
                "(http or https, a host, an optional port from 1 to 65535)."
            ),
            url=url,
        )
    if port is not None and not 1 <= port <= 65535:
        return _problem(
            _("The port of '%(url)s' is out of range: use a number from 1 to 65535."), url=url
        )
    host = parts.hostname
    if not _is_ip_address(host) and check_host(host):
        return _problem(_("'%(url)s' does not name a valid host."), url=url)
    return None
