"""Hostile answers to a Cancel-Jobs written whole (printing/ipp.py `cancel_jobs_whole`).

"Any answer but HTTP 200 ran nothing" holds for cupsd's own refusals (401, 403, 426,
400); it does not for an interim 1xx (RFC 9110 15.2: a client takes one or more before
the final answer, asked for or not) nor for a 5xx of a proxy in front of cupsd, which may
come after cupsd ran the request. And a 200 whose body is no answer to this request (not
IPP/1.x or 2.x, another request-id) proves no cancellation: an unknown outcome, never
"done" and never a second send that would cancel again.
"""

from __future__ import annotations

import struct

import pytest

from adminkit.printing import ipp
from tests.unit.test_printing_ipp_whole import URI, Server, http, ipp_answer, server

__all__ = ["server"]


def test_an_interim_100_before_the_200_is_the_200(server: Server) -> None:
    server.replies.append(b"HTTP/1.1 100 Continue\r\n\r\n" + http("200 OK", ipp_answer(0)))
    assert ipp.cancel_jobs_whole("127.0.0.1", server.port, URI, "root", [7]) is True
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", ["502 Bad Gateway", "504 Gateway Timeout",
                                    "500 Internal Server Error"])
def test_a_5xx_after_the_request_went_is_unknown_not_sent_again(
        server: Server, status: str) -> None:
    server.replies.append(http(status, b""))
    with pytest.raises(ipp.IppNoAnswer) as lost:
        ipp.cancel_jobs_whole("127.0.0.1", server.port, URI, "root", [7])
    assert lost.value.sent


@pytest.mark.parametrize("body", [
    b"\x00" * 9,  # IPP version 0.0, request-id 0: no IPP answer
    b"<html><body>It works</body></html>"[:2] + b"\x00\x00" + b"\x00" * 8,
    struct.pack(">BBHI", 2, 0, 0, 99) + b"\x01\x03",  # another request's answer
])
def test_a_200_with_a_body_that_answers_nothing_is_unknown_not_done(
        server: Server, body: bytes) -> None:
    server.replies.append(http("200 OK", body))
    with pytest.raises(ipp.IppNoAnswer) as lost:
        ipp.cancel_jobs_whole("127.0.0.1", server.port, URI, "root", [7])
    assert lost.value.sent
