import os

from engine.output import STDERR, STDOUT, Capture, Stream


def test_stream_keeps_everything_when_small():
    stream = Stream(head=10, tail=10)
    stream.write(b"hello ")
    stream.write(b"world")
    assert not stream.truncated
    assert stream.getvalue() == "hello world"
    assert stream.size == 11


def test_stream_keeps_head_and_tail():
    stream = Stream(head=4, tail=4)
    for chunk in (b"abcdef", b"ghij", b"klmnop"):
        stream.write(chunk)
    assert stream.truncated
    assert stream.size == 16
    assert stream.omitted() == 8
    assert stream.getvalue(marker="[{omitted}]") == "abcd[8]mnop"


def test_stream_bounded_whatever_the_chunks():
    stream = Stream(head=100, tail=100)
    for _ in range(10000):
        stream.write(b"x" * 37)
    assert len(stream.head) == 100
    assert len(stream.tail_bytes()) == 100
    assert stream.tail_size < 100 + 37


def test_capture_interleaves_and_separates(tmp_path):
    capture = Capture(head=1000, tail=1000, spill_dir=str(tmp_path))
    capture.write(STDOUT, b"out1\n")
    capture.write(STDERR, b"err1\n")
    capture.write(STDOUT, b"out2\n")
    capture.close()
    assert capture.text() == "out1\nerr1\nout2\n"
    assert capture.text(STDOUT) == "out1\nout2\n"
    assert capture.text(STDERR) == "err1\n"
    assert capture.spill_path is None  # small output stays in memory


def test_capture_spills_whole_output(tmp_path):
    capture = Capture(head=8, tail=8, spill_dir=str(tmp_path))
    data = [bytes([65 + i % 26]) * 5 for i in range(100)]
    for chunk in data:
        capture.write(STDOUT, chunk)
    capture.close()
    assert capture.truncated
    with open(capture.spill_path, "rb") as spill:
        assert spill.read() == b"".join(data)
    os.unlink(capture.spill_path)


def test_capture_spill_limit(tmp_path):
    capture = Capture(head=4, tail=4, spill_dir=str(tmp_path), spill_limit=20)
    for _ in range(10):
        capture.write(STDOUT, b"0123456789")
    capture.close()
    assert capture.size == 100
    assert os.path.getsize(capture.spill_path) == 20


def test_invalid_utf8_replaced():
    capture = Capture()
    capture.write(STDOUT, b"caf\xe9 \xff\xfe ok")
    assert capture.text() == "caf\ufffd \ufffd\ufffd ok"


def test_nul_bytes_shown_unless_raw():
    capture = Capture()
    capture.write(STDOUT, b"a\x00b")
    assert capture.text() == "a\u2400b"
    assert capture.text(STDOUT, raw=True) == "a\x00b"
