"""Market service: refuse request bodies over the market's limit before they are read.

Starlette reads a whole multipart or JSON body (to memory or a temporary file)
before an endpoint runs, so a bound checked in the endpoint comes too late: an
anonymous client could send gigabytes. This ASGI middleware answers 413 from
the ``Content-Length`` header, and counts the bytes of bodies sent without one.
"""

from __future__ import annotations

import json

from .replies import TOO_LARGE


class BodyLimit:
    def __init__(self, app, limit: int):
        self.app, self.limit = app, int(limit)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            too_large = declared is not None and int(declared) > self.limit
        except ValueError:
            too_large = False
        if too_large:
            return await self._refuse(send)
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send):
        body = json.dumps({"code": TOO_LARGE, "msg": f"the request is larger than the market's limit of "
                                                     f"{self.limit} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
