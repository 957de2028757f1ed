"""The HTTP answer parser of the put loop (core/s3/answer.py), fed the way
a socket delivers: whole, or cut anywhere."""

from __future__ import annotations

import pytest

from mpugui.core.s3.answer import Answer, AnswerParser

OK = (b"HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nContent-Length: 0\r\n"
      b"x-amz-request-id: R1\r\n\r\n")
ERROR = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: 44\r\n\r\n"
         b"<Error><Code>AccessDenied</Code></Error>\n\n\n\n")
CHUNKED = (b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")


def feed_in_pieces(raw: bytes, cut: int) -> tuple[Answer | None, int]:
    """Feed `raw` in pieces of `cut` bytes: the answer and how many pieces it took."""
    parser = AnswerParser(64 * 1024)
    for i in range(0, len(raw), cut):
        answer = parser.feed(raw[i:i + cut])
        if answer is not None:
            return answer, i // cut + 1
    return None, 0


@pytest.mark.parametrize("cut", [1, 2, 3, 7, 10_000])
def test_an_answer_is_the_same_however_it_is_cut(cut: int) -> None:
    ok, pieces = feed_in_pieces(OK, cut)
    assert ok == Answer(200, "OK", {"etag": '"abc"', "content-length": "0",
                                    "x-amz-request-id": "R1"}, b"", False)
    assert pieces == -(-len(OK) // cut)  # complete with its last byte, not before
    error, _ = feed_in_pieces(ERROR, cut)
    assert error is not None and error.status == 403 and error.reason == "Forbidden"
    assert error.body == b"<Error><Code>AccessDenied</Code></Error>\n\n\n\n"
    chunked, pieces = feed_in_pieces(CHUNKED, cut)
    assert chunked is not None and chunked.body == b"hello world" and chunked.status == 500
    assert pieces == -(-len(CHUNKED) // cut)


def test_an_informational_answer_is_skipped() -> None:
    answer = AnswerParser(1024).feed(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
    assert answer is not None and answer.status == 200


def test_when_the_connection_ends_with_the_answer() -> None:
    for raw in (OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"),
                OK.replace(b"HTTP/1.1", b"HTTP/1.0"),
                OK + b"HTTP/1.1 200"):  # bytes nobody asked for: out of step
        answer = AnswerParser(1024).feed(raw)
        assert answer is not None and answer.close


def test_a_body_until_the_close_ends_with_the_close_and_a_cut_one_does_not() -> None:
    parser = AnswerParser(1024)
    assert parser.feed(b"HTTP/1.1 200 OK\r\nETag: x\r\n\r\npartial body") is None
    answer = parser.end()
    assert answer is not None and answer.body == b"partial body" and answer.close
    cut = AnswerParser(1024)
    assert cut.feed(ERROR[:-10]) is None
    assert cut.end() is None  # fewer bytes than its Content-Length: cut short
    assert AnswerParser(1024).end() is None  # closed before any answer


def test_what_is_not_http_or_too_long_is_refused() -> None:
    with pytest.raises(ValueError):
        AnswerParser(1024).feed(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    with pytest.raises(ValueError):
        AnswerParser(100).feed(b"HTTP/1.1 200 OK\r\n" + b"X-Long: " + b"a" * 200)
