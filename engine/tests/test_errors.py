from engine.errors import parse

TRACEBACK = """\
starting
Traceback (most recent call last):
  File "/srv/app/main.py", line 10, in <module>
    run()
  File "/srv/app/lib.py", line 42, in run
    1 / 0
ZeroDivisionError: division by zero
done
"""

ODOO = """\
2026-11-27 10:00:00,123 4242 INFO db odoo.modules.loading: loading 1 modules...
2026-11-27 10:00:01,456 4242 ERROR db odoo.addons.sale.models.sale: Something broke
2026-11-27 10:00:02,456 4242 ERROR db odoo.http: Exception during request handling.
Traceback (most recent call last):
  File "/opt/odoo/odoo/http.py", line 2270, in __call__
    response = request._serve_db()
  File "/opt/odoo/addons/my_mod/controllers/main.py", line 7, in index
    raise UserError("nope")
odoo.exceptions.UserError: nope
2026-11-27 10:00:03,000 4242 CRITICAL db odoo.service.server: Failed to initialize database `db`.
2026-11-27 10:00:04,000 4242 WARNING db odoo.models: just a warning
"""


def test_python_traceback():
    (error,) = parse(TRACEBACK)
    assert error.error_type == "traceback"
    assert error.message == "ZeroDivisionError: division by zero"
    assert (error.file, error.line) == ("/srv/app/lib.py", 42)


def test_odoo_log_lines_and_their_traceback():
    errors = parse(ODOO)
    assert [e.error_type for e in errors] == ["odoo", "odoo", "odoo"]
    assert errors[0].message == "odoo.addons.sale.models.sale: Something broke"
    assert errors[0].file == ""
    assert errors[1].message.startswith("odoo.http: Exception during request handling.")
    assert errors[1].message.endswith("odoo.exceptions.UserError: nope")
    assert (errors[1].file, errors[1].line) == ("/opt/odoo/addons/my_mod/controllers/main.py", 7)
    assert "Failed to initialize database" in errors[2].message


def test_tool_errors():
    text = "\n".join(
        [
            "fatal: not a git repository (or any of the parent directories): .git",
            "ERROR: Could not find a version that satisfies the requirement nope==1",
            "sh: 1: frobnicate: not found",
            "bash: frobnicate: command not found",
            "cat: /nope: No such file or directory",
            "main.c:3:5: error: unknown type name 'foo'",
            "E: Unable to locate package nope",
            "npm ERR! code E404",
            "Error response from daemon: No such container: x",
            "psql: error: connection to server failed",
            "all good here",
        ]
    )
    errors = parse(text)
    assert [e.message for e in errors] == [
        "not a git repository (or any of the parent directories): .git",
        "Could not find a version that satisfies the requirement nope==1",
        "frobnicate: not found",
        "frobnicate: command not found",
        "cat: /nope: No such file or directory",
        "unknown type name 'foo'",
        "Unable to locate package nope",
        "code E404",
        "No such container: x",
        "connection to server failed",
    ]
    assert {e.error_type for e in errors} == {"tool"}
    assert (errors[5].file, errors[5].line) == ("main.c", 3)


def test_repeated_errors_counted_once_and_fingerprint_stable():
    text = "\n".join(f"fatal: cannot lock ref 'refs/heads/b{i}'" for i in range(5))
    (error,) = parse(text)
    assert error.count == 5
    other_run = parse("fatal: cannot lock ref 'refs/heads/b99'")[0]
    assert other_run.fingerprint == error.fingerprint
    assert parse("fatal: something else")[0].fingerprint != error.fingerprint


def test_chained_traceback_keeps_both():
    text = TRACEBACK.replace("done\n", "") + (
        "\nDuring handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/app/main.py", line 12, in <module>\n'
        "    handle()\n"
        "KeyError: 'x'\n"
    )
    errors = parse(text)
    assert [e.message for e in errors] == ["ZeroDivisionError: division by zero", "KeyError: 'x'"]
    assert errors[1].line == 12


def test_no_error_in_clean_output():
    assert parse("all fine\nerror handling is fine in prose\n") == []


def test_bounded():
    text = "\n".join(f"E: problem {'x' * i}" for i in range(500))
    assert len(parse(text)) == 100


def test_only_newlines_end_a_line():
    """U+2028, U+0085, \\x1c… inside a line never make a line of their own."""
    for separator in ("\u2028", "\u2029", "\x85", "\x1c", "\x1e", "\x0b", "\x0c"):
        text = f"[main 1a2b3c] fix{separator}/etc/hostname:1: error: injected\n"
        assert not [e for e in parse(text) if e.file == "/etc/hostname"], repr(separator)
    assert parse("/srv/x.c:3: error: real\r\n")[0].file == "/srv/x.c"


def test_traceback_keeps_every_frame():
    (error,) = parse(TRACEBACK)
    assert error.frames == (("/srv/app/main.py", 10, "<module>"), ("/srv/app/lib.py", 42, "run"))
    odoo = parse(ODOO)[1]
    assert [frame[0] for frame in odoo.frames] == [
        "/opt/odoo/odoo/http.py",
        "/opt/odoo/addons/my_mod/controllers/main.py",
    ]
    assert odoo.frames[-1][1:] == (7, "index")
    assert parse("fatal: nope")[0].frames == ()


def test_deep_traceback_is_bounded():
    frames = "".join(f'  File "/srv/f{i}.py", line {i}, in f{i}\n    x()\n' for i in range(1, 501))
    text = f"Traceback (most recent call last):\n{frames}RecursionError: too deep\n"
    (error,) = parse(text)
    assert len(error.frames) == 100
    assert error.frames[0][0] == "/srv/f1.py" and error.frames[19][0] == "/srv/f20.py"
    assert error.frames[-1] == ("/srv/f500.py", 500, "f500")
    assert (error.file, error.line) == ("/srv/f500.py", 500)
