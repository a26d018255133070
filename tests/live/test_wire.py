"""The public server's request parser (`engine.live.wire`) and its pacing, without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.live.server import Pacer
from engine.live.wire import MAX_HEAD, BadRequest, head_end, parse_head, render


def test_a_browser_request_is_understood() -> None:
    head = parse_head(
        b"GET /api/v1/public/appeals/3/counter?t=1 HTTP/1.1\r\nHost: live.example.org\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n"
        b'If-None-Match: "abc"\r\nConnection: keep-alive\r\n\r\n'
    )
    assert (head.method, head.path, head.keep_alive) == (
        "GET",
        "/api/v1/public/appeals/3/counter",
        True,
    )
    assert head.if_none_match == '"abc"'
    assert not parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n").keep_alive
    assert not parse_head(b"GET / HTTP/1.0\r\n\r\n").keep_alive


def test_a_head_is_found_or_refused_when_too_large() -> None:
    assert head_end(b"GET / HTTP/1.1\r\nHost: x\r\n") == -1
    assert head_end(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET") == 27
    with pytest.raises(BadRequest) as refused:
        head_end(b"a" * (MAX_HEAD + 1))
    assert refused.value.status == 431


def test_an_answer_is_framed() -> None:
    answer = render(200, [("Content-Type", "text/plain")], b"hello", keep_alive=True)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\nDate: ")
    assert answer.endswith(b"Content-Length: 5\r\n\r\nhello")
    head_only = render(200, [], b"hello", keep_alive=False, head_only=True)
    assert head_only.endswith(b"Connection: close\r\nContent-Length: 5\r\n\r\n")
    assert b"Content-Length" not in render(304, [], b"", keep_alive=True)


LINES = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from([b"GET / HTTP/1.1", b"Host: x", b"Content-Length: 0", b" fold", b":"]),
    ),
    max_size=8,
)


@given(LINES)
def test_any_head_is_parsed_or_refused_with_a_status(lines: list[bytes]) -> None:
    raw = b"\r\n".join(lines) + b"\r\n\r\n"
    status = 0
    try:
        head = parse_head(raw)
    except BadRequest as refused:
        status = refused.status
    if status:
        assert status in {400, 405, 414, 431, 501, 505}
    else:
        assert head.method in {"GET", "HEAD"}
        assert head.path.startswith("/")


def test_the_pacer_lets_a_burst_through_then_spaces_callers_in_order() -> None:
    pacer = Pacer(rate=10, burst=3)
    slots = [pacer.slot(100.0) for _ in range(5)]
    assert slots == pytest.approx([100.0, 100.0, 100.0, 100.1, 100.2])
    # A quiet spell saves up the burst again, never more.
    assert [pacer.slot(200.0) for _ in range(4)] == pytest.approx([200.0, 200.0, 200.0, 200.1])
