"""Alerts without Odoo: payloads, webhook lists, delivery to a real receiver, TLS expiry of
real HTTPS servers with certificates made here."""

import datetime
import socket
import threading

import pytest

from engine import alerts
from engine.alert_testing import TLSServer, WebhookReceiver, make_certificate
from engine.testing import free_port

EVENT = {
    "instance": "Production",
    "kind": "down",
    "message": "The process is not running.",
    "date": "2026-12-01T10:00:00Z",
    "url": "https://erp.example.com",
    "text": "Production is down: The process is not running.",
}


def test_payload_formats():
    assert alerts.build_payload("json", EVENT) == EVENT
    assert alerts.build_payload("slack", EVENT) == {"text": EVENT["text"]}
    assert alerts.build_payload("mattermost", EVENT) == {"text": EVENT["text"]}
    assert alerts.build_payload("discord", EVENT) == {"content": EVENT["text"]}
    long = {**EVENT, "text": "x" * 5000}
    assert len(alerts.build_payload("discord", long)["content"]) == alerts.DISCORD_MAX
    assert alerts.build_payload("discord", long)["content"].endswith("…")
    assert len(alerts.build_payload("slack", long)["text"]) == alerts.TEXT_MAX
    with pytest.raises(ValueError):
        alerts.build_payload("xml", EVENT)


def test_parse_webhooks():
    text = (
        "# ops channel\n"
        "slack https://hooks.slack.com/services/T0/B0/xyz\n"
        "\n"
        "  Discord   https://discord.com/api/webhooks/1/abc  \n"
        "https://ops.example.com/hook?token=1\n"
        "mattermost https://chat.example.com/hooks/k\n"
        "generic http://127.0.0.1:9000/\n"
        "https://ops.example.com/hook?token=1\n"
    )
    hooks, problems = alerts.parse_webhooks(text)
    assert problems == []
    assert hooks == [
        ("slack", "https://hooks.slack.com/services/T0/B0/xyz"),
        ("discord", "https://discord.com/api/webhooks/1/abc"),
        ("json", "https://ops.example.com/hook?token=1"),
        ("slack", "https://chat.example.com/hooks/k"),
        ("json", "http://127.0.0.1:9000/"),
    ]
    assert alerts.parse_webhooks("") == ([], [])
    assert alerts.parse_webhooks(None) == ([], [])


@pytest.mark.parametrize(
    "line",
    [
        "teams https://example.com/hook",
        "ftp://example.com/hook",
        "slack ftp://example.com/hook",
        "slack https://example.com/a b",
        "slack http://-oProxyCommand=x/",
        "slack http://example.com:99999/",
        "javascript:alert(1)",
        "slack https://example.com/hook extra",
    ],
)
def test_parse_webhooks_refuses(line):
    hooks, problems = alerts.parse_webhooks(f"json https://ok.example.com/\n{line}")
    assert hooks == [("json", "https://ok.example.com/")]
    assert len(problems) == 1
    assert "Line 2" in str(problems[0])


def test_parse_webhooks_refuses_nul():
    assert alerts.parse_webhooks("https://a.example.com/\x00")[1]
    assert alerts.parse_webhooks(["https://a.example.com/"])[1]


def test_retry_delay():
    assert [alerts.retry_delay(n) for n in range(1, 6)] == [60, 120, 240, 480, 960]
    assert alerts.retry_delay(30) == 3600


def test_post_json_to_a_real_receiver():
    with WebhookReceiver([500, 200]) as receiver:
        with pytest.raises(alerts.DeliveryError) as caught:
            alerts.post_json(receiver.url(), {"text": "é"}, timeout=5)
        assert "HTTP 500" in str(caught.value)
        assert "receiver says no" in str(caught.value)
        assert "/hook" not in str(caught.value)  # the path may be the webhook's secret
        assert alerts.post_json(receiver.url(), {"text": "é"}, timeout=5) == 200
        assert receiver.delivered() == [{"text": "é"}]
        headers = receiver.requests[-1]["headers"]
        assert headers["Content-Type"].startswith("application/json")
        assert headers["User-Agent"] == alerts.USER_AGENT
        # Credentials in the URL become basic authentication.
        url = receiver.url().replace("http://", "http://bot:s%40cret@")
        alerts.post_json(url, {"a": 1}, timeout=5)
        assert receiver.requests[-1]["headers"]["Authorization"] == "Basic Ym90OnNAY3JldA=="


def test_post_json_refused_and_timeout():
    with pytest.raises(alerts.DeliveryError) as caught:
        alerts.post_json(f"http://127.0.0.1:{free_port()}/hook", {}, timeout=2)
    assert "Refused" in str(caught.value)
    # A server that accepts the connection and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(alerts.DeliveryError) as caught:
            alerts.post_json(f"http://127.0.0.1:{port}/hook", {}, timeout=0.5)
    assert "No answer from 127.0.0.1 within 0.5 s" in str(caught.value)
    with pytest.raises(alerts.DeliveryError):
        alerts.post_json("ftp://example.com/", {}, timeout=1)


def test_tls_target():
    assert alerts.tls_target("https://erp.example.com") == ("erp.example.com", 443)
    assert alerts.tls_target("https://localhost:8443/web") == ("localhost", 8443)
    assert alerts.tls_target("http://erp.example.com") is None
    assert alerts.tls_target("https://a b/") is None
    assert alerts.tls_target(None) is None


def test_self_signed_certificate_expiry(tmp_path):
    cert, key = make_certificate(str(tmp_path), "soon", days=5)
    with TLSServer(cert, key) as server:
        found = alerts.certificate("localhost", server.port, timeout=5)
    assert not found.trusted
    assert "self" in found.problem and "signed" in found.problem
    assert 4.9 < found.days_left() <= 5
    assert found.subject == "CN=localhost"
    assert len(found.fingerprint) == 64
    assert found.not_after.tzinfo is not None


def test_trusted_certificate_and_host_name(tmp_path):
    ca = make_certificate(str(tmp_path), "ca", days=365, ca=True)
    cert, key = make_certificate(str(tmp_path), "leaf", days=30, issuer=ca)
    with TLSServer(cert, key) as server:
        found = alerts.certificate("localhost", server.port, timeout=5, cafile=ca[0])
        assert found.trusted, found.problem
        assert found.problem == ""
        assert 29 < found.days_left() <= 30
        # The same certificate reached by another name: read, and said to be untrusted.
        other = alerts.certificate("127.0.0.1", server.port, timeout=5, cafile=ca[0])
        assert not other.trusted
        assert "mismatch" in other.problem.lower() or "not valid" in other.problem.lower()
        assert other.fingerprint == found.fingerprint


def test_expired_certificate(tmp_path):
    cert, key = make_certificate(str(tmp_path), "old", days=-3)
    with TLSServer(cert, key) as server:
        found = alerts.certificate("localhost", server.port, timeout=5)
    assert not found.trusted
    assert -3.1 < found.days_left() < -2.9


def test_no_tls_there():
    with pytest.raises(alerts.TLSCheckError):
        alerts.certificate("127.0.0.1", free_port(), timeout=2)
    # A plain TCP server that closes at once: no certificate.
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        port = plain.getsockname()[1]

        def close_at_once():
            conn, _ = plain.accept()
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            conn.close()

        threading.Thread(target=close_at_once, daemon=True).start()
        with pytest.raises(alerts.TLSCheckError):
            alerts.certificate("127.0.0.1", port, timeout=2)


def test_certificates_concurrently(tmp_path):
    cert, key = make_certificate(str(tmp_path), "many", days=10)
    with TLSServer(cert, key) as server:
        found = alerts.certificates(
            {1: ("localhost", server.port), 2: ("127.0.0.1", free_port())}, timeout=3
        )
    assert isinstance(found[1], alerts.Certificate)
    assert isinstance(found[2], alerts.TLSCheckError)
    assert alerts.certificates({}) == {}
    assert datetime.timedelta(days=9) < found[1].not_after - datetime.datetime.now(
        datetime.timezone.utc
    )
