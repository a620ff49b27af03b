"""HTTP framing errors as the service's JSON.

A request h11 cannot parse (`Content-Length: -1`, a bad chunk size, a broken request line) never
reaches the app: uvicorn answers it itself, as text/plain 400. This protocol is uvicorn's h11 one
with that answer in the service's format. `workbench serve` passes it to uvicorn; with plain
uvicorn, `uvicorn service:app --http service.framing:JSONErrorH11Protocol`.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol

BODY = json.dumps({"error": "the request is not valid HTTP: check the request line, the headers, "
                            "Content-Length and the chunked encoding"}).encode()


class JSONErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol; its 400 for malformed framing is `{"error": sentence}`."""

    def send_400_response(self, msg: str) -> None:
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            self.transport.close()  # a response has begun: all that is left is to close
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=STATUS_PHRASES[400]),
                      h11.Data(data=BODY), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()
