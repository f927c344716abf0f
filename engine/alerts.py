"""Alerts: what goes out when an instance goes down, comes back, or its certificate expires.

The models (``models/devops_alert.py``) decide when and to whom; this module builds what is
sent and sends it, in plain Python:

- **Webhook payloads** (:func:`build_payload`), one per format:

  ========== =================================================================
  ``json``    generic: ``{"instance", "kind", "message", "date", "url", "text"}``
  ``slack``   Slack and Mattermost incoming webhooks: ``{"text": …}``
  ``discord`` Discord webhooks: ``{"content": …}`` (at most 2 000 characters)
  ========== =================================================================

- **Webhook lists** (:func:`parse_webhooks`): one webhook per line, ``format url`` or a bare
  ``url`` (generic JSON); blank lines and ``#`` comments are skipped.  Every URL is checked
  like any URL of the addon (``validation.check_url``: http or https, a host, a valid port).
- **Delivery** (:func:`post_json`): one POST, redirects not followed, bounded by a timeout;
  a 2xx answer is a delivery, anything else raises :class:`DeliveryError` saying what
  happened, and the caller retries later (:func:`retry_delay`: a backoff that doubles).
  Messages name the host, never the whole URL: a webhook's path is often its secret.
- **TLS certificates** (:func:`certificate`, :func:`certificates`): the expiry date of the
  certificate an https URL presents; see :func:`certificate` for how untrusted (self-signed,
  private CA) certificates are handled.
"""

# The engine never imports odoo: "_" below only marks messages for Odoo's term export, and the
# models translate them with self.env._ (pylint-odoo's prefer-env-translation cannot apply).
# pylint: disable=prefer-env-translation
import base64
import concurrent.futures
import dataclasses
import datetime
import http.client
import json
import socket
import ssl
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .validation import _problem, check_url


def _(template):
    """Mark a message for Odoo's translation export; the caller translates it."""
    return template


FORMATS = ("json", "slack", "discord")
# Other names people write for the same payloads.
FORMAT_ALIASES = {"generic": "json", "mattermost": "slack"}
DISCORD_MAX = 2000
TEXT_MAX = 4000
USER_AGENT = "erplibre-devops-alerts"
MAX_WORKERS = 32


class DeliveryError(Exception):
    """A webhook was not delivered; ``str()`` says why (HTTP status, refused, timeout)."""


class TLSCheckError(Exception):
    """No certificate could be read (nothing answers, no TLS there); ``str()`` says why."""


# --- Payloads ----------------------------------------------------------------------------


def _clip(text, limit):
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_payload(fmt, event):
    """The JSON body of a webhook of format ``fmt`` for ``event``, a dict with ``instance``,
    ``kind``, ``message``, ``date`` (ISO 8601, UTC), ``url`` and ``text`` (one human-readable
    summary, already in the reader's language)."""
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    text = _clip(event.get("text") or event.get("message") or "", TEXT_MAX)
    if fmt == "json":
        return {
            "instance": event.get("instance") or "",
            "kind": event.get("kind") or "",
            "message": event.get("message") or "",
            "date": event.get("date") or "",
            "url": event.get("url") or "",
            "text": text,
        }
    if fmt == "slack":
        return {"text": text}
    if fmt == "discord":
        return {"content": _clip(text, DISCORD_MAX)}
    raise ValueError(f"Unknown webhook format: {fmt!r}")


def parse_webhooks(text):
    """``(webhooks, problems)``: the ``[(format, url), …]`` of a webhook list (one per line,
    ``format url`` or a bare ``url``; duplicates dropped) and the :class:`Problem` of each
    bad line (empty when all are fine)."""
    hooks, problems = [], []
    if not text:
        return hooks, problems
    if not isinstance(text, str) or "\x00" in text:
        return hooks, [_problem(_("The webhook list must be text, one webhook per line."))]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) == 1:
            fmt, url = "json", parts[0]
        elif len(parts) == 2:
            fmt, url = parts[0].lower(), parts[1]
            fmt = FORMAT_ALIASES.get(fmt, fmt)
        else:
            fmt, url = None, None
        if fmt not in FORMATS:
            problems.append(
                _problem(
                    _(
                        "Line %(line)s of the webhooks: write 'format URL' with a format among "
                        "json, slack, mattermost, discord (for example: slack "
                        "https://hooks.slack.com/services/…), or just a URL for generic JSON."
                    ),
                    line=number,
                )
            )
            continue
        problem = check_url(url)
        if problem:
            problems.append(
                _problem(
                    _("Line %(line)s of the webhooks: %(problem)s"), line=number, problem=problem
                )
            )
            continue
        if (fmt, url) not in hooks:
            hooks.append((fmt, url))
    return hooks, problems


# --- Delivery ----------------------------------------------------------------------------


def retry_delay(attempts, base=60, cap=3600):
    """Seconds to wait before the next try after ``attempts`` failed ones: 1, 2, 4, 8 …
    minutes (``base`` doubled each time), at most ``cap``."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def post_json(url, payload, timeout=10.0):
    """POST ``payload`` as JSON to ``url``; returns the HTTP status (2xx).  Raises
    :class:`DeliveryError` for any other answer, a refused connection, a timeout or a TLS
    problem.  User and password in the URL (``https://user:pass@host/…``) are sent as HTTP
    basic authentication."""
    problem = check_url(url)
    if problem:
        raise DeliveryError(str(problem))
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Content-Length": str(len(body)),
    }
    if parts.username is not None:
        credentials = f"{urllib.parse.unquote(parts.username)}:"
        credentials += urllib.parse.unquote(parts.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(host, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(2048)
    except TimeoutError as error:
        raise DeliveryError(f"No answer from {host} within {timeout:g} s.") from error
    except ssl.SSLError as error:
        raise DeliveryError(f"TLS problem with {host}: {error}") from error
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryError(f"{host}: {error.__class__.__name__}: {error}") from error
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return response.status
    detail = answer.decode("utf-8", "replace").strip()
    detail = f": {_clip(' '.join(detail.split()), 300)}" if detail else ""
    raise DeliveryError(f"{host} answered HTTP {response.status} {response.reason}{detail}")


# --- TLS certificates ----------------------------------------------------------------------


@dataclasses.dataclass
class Certificate:
    """The certificate an https URL presents."""

    not_after: datetime.datetime  # aware, UTC
    subject: str
    issuer: str
    fingerprint: str  # SHA-256, hex
    trusted: bool
    problem: str = ""  # why it is not trusted ("self-signed certificate", …)

    def days_left(self, now=None):
        """Days until it expires (negative once expired), as a float."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=datetime.timezone.utc)
        return (self.not_after - now).total_seconds() / 86400

    @property
    def not_after_naive(self):
        """``not_after`` as a naive UTC datetime, as Odoo stores dates."""
        return self.not_after.replace(tzinfo=None)


def tls_target(url):
    """``(host, port)`` of an https URL (port 443 by default), else None."""
    if not isinstance(url, str) or check_url(url):
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        return None
    return parts.hostname, parts.port or 443


def _peer_certificate(host, port, timeout, verify, cafile):
    context = ssl.create_default_context(cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def certificate(host, port=443, timeout=10.0, cafile=None):
    """The certificate ``host:port`` presents, with its expiry date and whether it is trusted.

    The connection is verified as a browser would (the system's CAs, or ``cafile``, and the
    host name).  When that verification fails, the certificate is read again without it, and
    returned with ``trusted=False`` and the reason (``"self-signed certificate"``,
    ``"certificate has expired"``, a host name mismatch…) instead of an error.

    Why: self-hosters often serve internal instances with a self-signed certificate or one of
    a private CA, and those expire too — a check that stopped at "not trusted" would never
    warn about them.  And for a public certificate, an alert that says both "expires in 3
    days" and "not trusted: host name mismatch" is what the person fixing it needs.  Nothing
    is sent over these connections: reading the certificate of an untrusted server is safe.

    Raises :class:`TLSCheckError` when no certificate can be read at all (nothing answers,
    no TLS on that port, a timeout)."""
    trusted, problem = True, ""
    try:
        try:
            der = _peer_certificate(host, port, timeout, True, cafile)
        except ssl.SSLCertVerificationError as error:
            trusted = False
            problem = error.verify_message or error.reason or str(error)
            der = _peer_certificate(host, port, timeout, False, cafile)
    except TimeoutError as error:
        raise TLSCheckError(f"No answer from {host}:{port} within {timeout:g} s.") from error
    except ssl.SSLError as error:
        raise TLSCheckError(f"No TLS certificate from {host}:{port}: {error}") from error
    except OSError as error:
        raise TLSCheckError(f"{host}:{port}: {error.__class__.__name__}: {error}") from error
    if not der:
        raise TLSCheckError(f"{host}:{port} presented no certificate.")
    cert = x509.load_der_x509_certificate(der)
    not_after = getattr(cert, "not_valid_after_utc", None)  # cryptography >= 42
    if not_after is None:
        not_after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return Certificate(
        not_after=not_after,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        trusted=trusted,
        problem=problem,
    )


def _certificate_or_error(host, port, timeout, cafile):
    try:
        return certificate(host, port, timeout, cafile)
    except TLSCheckError as error:
        return error
    except Exception as error:  # never one target's problem for the others
        return TLSCheckError(f"{host}:{port}: {error.__class__.__name__}: {error}")


def certificates(targets, timeout=10.0, cafile=None):
    """``targets``: {key: (host, port)} → {key: Certificate or TLSCheckError}, concurrently."""
    if not targets:
        return {}
    workers = min(MAX_WORKERS, len(targets))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="devops-tls") as pool:
        futures = {
            key: pool.submit(_certificate_or_error, host, port, timeout, cafile)
            for key, (host, port) in targets.items()
        }
        return {key: future.result() for key, future in futures.items()}
