"""Real receivers for the tests of alerts, shared by the engine's pytest suite and the Odoo
tests: an HTTP receiver of webhooks, an HTTPS server with a certificate made on the spot,
and an SMTP server (aiosmtpd, a development requirement).  All listen on 127.0.0.1 on a
free port, run in threads of the test process, and are stopped by ``stop()`` or by leaving
their ``with`` block.  Nothing is mocked.
"""

import datetime
import http.server
import json
import os
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .testing import free_port


class _Server:
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class WebhookReceiver(_Server):
    """Records every POST (path, headers, JSON body) and answers the next status of
    ``statuses`` (the last one once they are used up): ``[500, 200]`` fails the first
    delivery and accepts the retry."""

    __test__ = False

    def __init__(self, statuses=(200,)):
        self.statuses = list(statuses)
        self.requests = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver.lock:
                    status = receiver.statuses[0]
                    if len(receiver.statuses) > 1:
                        receiver.statuses.pop(0)
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": json.loads(raw.decode("utf-8")),
                            "status": status,
                        }
                    )
                answer = b"ok" if status < 300 else b"receiver says no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def delivered(self, path=None):
        """Bodies of the requests answered 2xx (on ``path`` if given)."""
        with self.lock:
            return [
                r["body"]
                for r in self.requests
                if r["status"] < 300 and (path is None or r["path"] == path)
            ]

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificate(directory, name, days, hosts=("localhost",), issuer=None, ca=False):
    """Write ``<name>.pem`` and ``<name>.key`` in ``directory``: a certificate for ``hosts``
    (DNS names) valid from a day ago for ``days`` days (negative: expired that long ago),
    self-signed unless ``issuer`` (the paths of a CA made here) signs it.  Returns
    ``(certificate path, key path)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    if days > 0:
        start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=days)
    else:
        start, end = now + datetime.timedelta(days=days - 30), now + datetime.timedelta(days=days)
    subject = _name(hosts[0] if not ca else f"{name} test CA")
    if issuer:
        with open(issuer[0], "rb") as handle:
            issuer_cert = x509.load_pem_x509_certificate(handle.read())
        with open(issuer[1], "rb") as handle:
            signing_key = serialization.load_pem_private_key(handle.read(), password=None)
        issuer_name = issuer_cert.subject
    else:
        signing_key, issuer_name = key, subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host) for host in hosts]), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    cert = builder.sign(signing_key, hashes.SHA256())
    cert_path = os.path.join(directory, f"{name}.pem")
    key_path = os.path.join(directory, f"{name}.key")
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    os.chmod(key_path, 0o600)
    return cert_path, key_path


class TLSServer(_Server):
    """An HTTPS server presenting the certificate ``cert_path`` (key ``key_path``); every GET
    answers 200."""

    __test__ = False

    def __init__(self, cert_path, key_path):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_path, key_path)
        self.port = free_port()
        self.server = None
        self.thread = None

    @property
    def url(self):
        return f"https://localhost:{self.port}"

    def start(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        context = self.context

        class Server(http.server.ThreadingHTTPServer):
            def get_request(self):
                sock, address = super().get_request()
                sock.settimeout(5)
                try:
                    return context.wrap_socket(sock, server_side=True), address
                except (OSError, ssl.SSLError):
                    sock.close()
                    raise

            def handle_error(self, request, client_address):
                pass  # a client that refused our certificate: expected in these tests

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)


class SMTPReceiver(_Server):
    """An SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it is given:
    ``messages`` holds ``{"from", "to", "data"}`` (data: the message as text)."""

    __test__ = False

    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller  # noqa: PLC0415 - a test requirement only

        receiver = self

        class Handler:
            async def handle_DATA(self, _server, _session, envelope):
                receiver.messages.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "data": envelope.content.decode("utf-8", "replace"),
                    }
                )
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
