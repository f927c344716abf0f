"""Bounded capture of a command's output.

A command may print gigabytes; the capture keeps in memory only the first ``head`` bytes and
the last ``tail`` bytes, counts everything, and when the output outgrows memory it writes the
whole stream to a spill file (raw bytes, nothing lost, capped at ``spill_limit`` bytes).

One :class:`Capture` per run keeps the interleaved stream (stdout and stderr in the order they
arrived, for display) and one :class:`Stream` per channel keeps each one apart.
"""

# pylint: disable=method-required-super
# (pylint-odoo takes any write() for an Odoo model's; these are plain byte buffers)
import collections
import os
import tempfile

STDOUT = "stdout"
STDERR = "stderr"


class Stream:
    """Head and tail of one byte stream, with its total size."""

    def __init__(self, head=64 * 1024, tail=64 * 1024):
        self.head_limit = head
        self.tail_limit = tail
        self.head = bytearray()
        self.tail = collections.deque()
        self.tail_size = 0
        self.size = 0
        self.skipped = False

    def write(self, data):
        self.size += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data or not self.tail_limit:
            return
        self.tail.append(bytes(data))
        self.tail_size += len(data)
        while self.tail_size - len(self.tail[0]) >= self.tail_limit:
            self.tail_size -= len(self.tail.popleft())

    def skip(self, count):
        """``count`` bytes went by unread (the middle of a large output): counted as
        omitted; the tail restarts after them."""
        if count <= 0:
            return
        self.size += count
        self.tail.clear()
        self.tail_size = 0
        self.skipped = True

    @property
    def truncated(self):
        return self.size > len(self.head) + min(self.tail_size, self.tail_limit)

    def omitted(self):
        return self.size - len(self.head) - min(self.tail_size, self.tail_limit)

    def tail_bytes(self):
        data = b"".join(self.tail)
        return data[-self.tail_limit :] if self.tail_limit else b""

    def getvalue(self, marker="\n… {omitted} bytes omitted …\n", raw=False):
        """Head and tail as text (invalid UTF-8 replaced), with a marker where bytes are missing.

        NUL bytes become "␀" (a database text cannot hold them) unless ``raw``, for parsers
        of NUL-separated output."""
        head = self.head.decode("utf-8", errors="replace")
        if not self.truncated:
            text = head + self.tail_bytes().decode("utf-8", errors="replace")
        else:
            tail = self.tail_bytes().decode("utf-8", errors="replace")
            text = head + marker.format(omitted=self.omitted()) + tail
        return text if raw else text.replace("\x00", "\u2400")


class Capture:
    """The output of one run: interleaved, per stream, and spilled to a file when large."""

    def __init__(self, head=64 * 1024, tail=64 * 1024, spill_dir=None, spill_limit=2**30):
        self.combined = Stream(head, tail)
        self.streams = {STDOUT: Stream(head, tail), STDERR: Stream(head, tail)}
        self.spill_dir = spill_dir
        self.spill_limit = spill_limit
        self.spill_path = None
        self.spill_size = 0
        self._spill = None
        self._pending = []  # chunks kept until the output outgrows memory

    def write(self, stream, data):
        if not data:
            return
        self.streams[stream].write(data)
        self.combined.write(data)
        if self._spill is None and self.spill_dir is not None:
            self._pending.append(data)
            if self.combined.truncated:
                self._open_spill()
        elif self._spill is not None:
            self._spill_write(data)

    def skip(self, stream, count):
        """``count`` bytes of ``stream`` went by unread (see Stream.skip)."""
        self.streams[stream].skip(count)
        self.combined.skip(count)

    def _open_spill(self):
        fd, self.spill_path = tempfile.mkstemp(prefix="devops-output-", dir=self.spill_dir)
        self._spill = os.fdopen(fd, "wb")
        pending, self._pending = self._pending, []
        for chunk in pending:
            self._spill_write(chunk)

    def _spill_write(self, data):
        room = self.spill_limit - self.spill_size
        if room > 0:
            self._spill.write(data[:room])
            self.spill_size += min(room, len(data))

    def close(self):
        """Flush the spill file; keeps it on disk (the caller owns ``spill_path``)."""
        self._pending = []
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    @property
    def size(self):
        return self.combined.size

    @property
    def truncated(self):
        return self.combined.truncated

    def text(self, stream=None, raw=False):
        """The output as text; ``raw`` keeps NUL bytes (see Stream.getvalue)."""
        return (self.streams[stream] if stream else self.combined).getvalue(raw=raw)
