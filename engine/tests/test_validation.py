import pytest

from engine import validation as v


@pytest.mark.parametrize("port", [1, 22, 8069, 65535])
def test_port_ok(port):
    assert v.check_port(port) is None


@pytest.mark.parametrize("port", [0, -1, 65536, 10**9, "22", 2.5, None, True])
def test_port_refused(port):
    assert v.check_port(port)


@pytest.mark.parametrize(
    "host",
    ["localhost", "db.example.com", "a-b.c", "192.0.2.10", "::1", "[2001:db8::1]", "host."],
)
def test_host_ok(host):
    assert v.check_host(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "",
        "   ",
        " host",
        "-oProxyCommand=sh",
        "host;reboot",
        "$(id)",
        "`id`",
        "a b",
        "host\nother",
        "host\x00",
        "bad_label.example",
        "-host",
        "a" * 64 + ".com",
    ],
)
def test_host_refused(host):
    message = v.check_host(host)
    assert isinstance(message, v.Problem) and str(message)


@pytest.mark.parametrize("user", ["", "odoo", "deploy_1", "first.last", "a-b", "machine$"])
def test_user_ok(user):
    assert v.check_user_name(user) is None


@pytest.mark.parametrize("user", ["-oops", ".hidden", "a b", "root;id", "x" * 40, "é"])
def test_user_refused(user):
    assert v.check_user_name(user)


@pytest.mark.parametrize("path", ["/", "/srv/odoo", "/home/me/my repo", "/a/b.c/..d/e..", "/a/./b"])
def test_path_ok(path):
    assert v.check_absolute_path(path) is None


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("", "empty"),
        ("srv/odoo", "relative"),
        ("./srv", "relative"),
        ("~/odoo", "relative"),
        ("/srv/../etc", ".."),
        ("/srv/..", ".."),
        ("/srv\x00/x", "NUL"),
        ("/srv\n/x", "control"),
    ],
)
def test_path_refused_with_reason(path, word):
    message = v.check_absolute_path(path)
    assert message and word in str(message)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/", "/"), ("//srv//odoo/", "/srv/odoo"), ("/srv/./odoo/.", "/srv/odoo")],
)
def test_normalize_path(path, expected):
    assert v.normalize_path(path) == expected


def test_problem_formats_its_parameters():
    problem = v.check_port(70000)
    assert problem.params == {"port": 70000}
    assert str(problem) == "The port 70000 is out of range: use a number from 1 to 65535."
    assert str(v.check_host("")) == "The host is empty: enter a host name or an IP address."


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8069/web/health",
        "https://erp.example.com/web/health?db_server_status=1",
        "http://[::1]:8069/",
        "http://192.0.2.10/",
    ],
)
def test_url_ok(url):
    assert v.check_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/",
        "http://h:abc/",
        "http://[::1",
        "http://h:0/",
        "ftp://example.com/",
        "http://",
        "http:///path",
        "http://a b/",
        "http://example.com/\n",
        "http://example.com/\x00",
        "http://-oProxyCommand=x/",
        "javascript:alert(1)",
        "",
        None,
        8069,
    ],
)
def test_url_refused(url):
    assert v.check_url(url)


def test_trailing_newline_refused():
    """Whole-string matches: a "$" in a pattern would let a final newline through."""
    assert v.check_user_name("odoo\n")
    assert v.check_host("example.com\n")
    assert v.check_absolute_path("/srv/x\n")


@pytest.mark.parametrize("value", [123, ["a"], {"a": 1}, b"bytes"])
def test_wrong_types_are_problems_not_exceptions(value):
    assert v.check_host(value)
    assert v.check_user_name(value)
    assert v.check_absolute_path(value)
    assert v.check_url(value)
