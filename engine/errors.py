"""Find what failed in a command's output.

:func:`parse` reads the text of a run and returns :class:`ParsedError` items:

- ``traceback``: a Python traceback; the location is its innermost frame, the message its
  last line ("ZeroDivisionError: division by zero"); ``frames`` keeps every frame
  (file, line, function), outermost first as Python prints them (a very deep one: its first
  and last frames, ``MAX_FRAMES`` in all);
- ``odoo``: an Odoo log line at ERROR or CRITICAL level (when a traceback follows it, the
  traceback's location and exception are added to it);
- ``tool``: the usual error lines of git, pip, shells, compilers, apt, npm, docker, psql.

Identical errors are reported once with a count.  The fingerprint (stable across runs: digits,
hex addresses and temporary names are blanked) groups the same error over many runs.
"""

import dataclasses
import hashlib
import re

MAX_ERRORS = 100
MAX_MESSAGE = 2000
MAX_FRAMES = 100  # a deep recursion: the first 20 frames and the innermost ones

_ODOO_LOG = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>ERROR|CRITICAL) \S+ (?P<logger>[\w.]+): "
    r"(?P<message>.*)$"
)
_ANY_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ [A-Z]+ ")
_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>.+))?')
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$")  # "ValueError: text", "KeyboardInterrupt"
_TOOLS = [
    # compiler-style "file:line:col: error: message"
    re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: (?P<message>.+)$"),
    re.compile(r"^(?:fatal|error): (?P<message>.+)$"),  # git, cc
    re.compile(r"^ERROR: (?P<message>.+)$"),  # pip
    re.compile(r"^E: (?P<message>.+)$"),  # apt
    re.compile(r"^npm ERR! (?P<message>.+)$"),
    re.compile(r"^Error response from daemon: (?P<message>.+)$"),  # docker
    re.compile(r"^psql: error: (?P<message>.+)$"),
    re.compile(
        r"^(?:/\S+/)?(?:ba|da|z)?sh: (?:line )?\d+: (?P<message>.+)$"
    ),  # sh: 1: x: not found
    re.compile(
        r"^(?:/\S+/)?(?:ba|z)?sh: "
        r"(?P<message>.+: (?:command not found|No such file or directory|Permission denied))$"
    ),
    re.compile(r"^(?P<message>\S.*: (?:No such file or directory|Permission denied))$"),
]
_NORMALIZE = [
    (re.compile(r"0x[0-9a-fA-F]+"), "0x?"),
    (re.compile(r"/tmp/[\w.-]+"), "/tmp/?"),  # noqa: S108 - blanks temporary names, creates none
    (re.compile(r"\d+"), "N"),
]


@dataclasses.dataclass
class ParsedError:
    error_type: str
    message: str
    file: str = ""
    line: int = 0
    count: int = 1
    frames: tuple = ()  # ((file, line, function), ...), outermost first; the last is file:line

    @property
    def fingerprint(self):
        text = self.message
        for pattern, replacement in _NORMALIZE:
            text = pattern.sub(replacement, text)
        key = f"{self.error_type}\0{text}\0{self.file}"
        return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]


def _traceback(lines, start):
    """Parse the traceback starting at ``lines[start]``; returns (error or None, next index)."""
    frames, i = [], start + 1
    while i < len(lines):
        text = lines[i]
        frame = _FRAME.match(text)
        if frame:
            function = (frame["function"] or "").strip()[:200]
            frames.append((frame["file"], int(frame["line"]), function))
        elif text.startswith((" ", "\t")) or not text.strip():
            pass  # source line or blank line inside the traceback
        elif text.startswith(_TRACEBACK):
            return None, i  # a new traceback starts (chained exceptions): keep the last
        elif text.startswith(("During handling of", "The above exception was")):
            pass
        else:
            match = _EXCEPTION.match(text)
            if match and not _ANY_LOG.match(text):
                message = text.strip()
                file, line_no = frames[-1][:2] if frames else ("", 0)
                if len(frames) > MAX_FRAMES:
                    frames = frames[:20] + frames[20 - MAX_FRAMES :]
                error = ParsedError(
                    "traceback", message[:MAX_MESSAGE], file, line_no, frames=tuple(frames)
                )
                return error, i + 1
            return None, i
        i += 1
    return None, i


def parse(text):
    # Only newlines end a line: str.splitlines() would also split on U+2028, U+0085, \x1c…,
    # letting a value printed inside one line pose as a line of its own.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    found = {}
    order = []

    def add(error):
        key = error.fingerprint
        if key in found:
            found[key].count += 1
        elif len(order) < MAX_ERRORS:
            found[key] = error
            order.append(key)

    last_log = None
    i = 0
    while i < len(lines):
        text = lines[i]
        if text.startswith(_TRACEBACK):
            error, i = _traceback(lines, i)
            if error is not None:
                if last_log is not None:  # the log line just before the traceback
                    log_error = last_log
                    error = ParsedError(
                        "odoo",
                        f"{log_error.message} — {error.message}"[:MAX_MESSAGE],
                        error.file,
                        error.line,
                        frames=error.frames,
                    )
                    last_log = None
                add(error)
            continue
        if last_log is not None:
            add(last_log)
            last_log = None
        log = _ODOO_LOG.match(text)
        if log:
            last_log = ParsedError("odoo", f"{log['logger']}: {log['message']}"[:MAX_MESSAGE])
            i += 1
            continue
        for pattern in _TOOLS:
            match = pattern.match(text)
            if match:
                groups = match.groupdict()
                add(
                    ParsedError(
                        "tool",
                        groups["message"].strip()[:MAX_MESSAGE],
                        groups.get("file") or "",
                        int(groups.get("line") or 0),
                    )
                )
                break
        i += 1
    if last_log is not None:
        add(last_log)
    return [found[key] for key in order]
