"""Market service: refuse request bodies over their route's limit before they are read.

Starlette reads a whole multipart or JSON body (to memory or a temporary file)
before an endpoint runs, and parses a JSON body on the event loop, so a bound
checked in the endpoint comes too late: an anonymous client could send
gigabytes, or a few hundred MB of ``[[],[],...]`` that every other request waits
behind. This ASGI middleware gives each route its own limit (only the two
routes that carry a learnware zip take the upload limit; JSON routes take
what their fields can hold) and answers 413 from the ``Content-Length``
header, or, for a body sent without one (chunked), as soon as the bytes
counted pass the limit: the application then sees the client gone, and
whatever it would answer to half a body is dropped, so the client gets the
413 and not a 400 about a body that could not be parsed.
"""

from __future__ import annotations

import json

from .replies import TOO_LARGE


class BodyLimit:
    def __init__(self, app, limits: dict, default: int):
        self.app, self.limits, self.default = app, {path: int(n) for path, n in limits.items()}, int(default)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope.get("path", ""), self.default)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            too_large = declared is not None and int(declared) > limit
        except ValueError:
            too_large = False
        if too_large:
            return await self._refuse(send, limit, scope)
        received, refused = 0, False

        async def counting_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await self._refuse(send, limit, scope)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not refused:  # after our 413, the application's answer to a cut body goes nowhere
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise

    @staticmethod
    async def _refuse(send, limit: int, scope):
        where = f"{scope.get('method', '')} {scope.get('path', '')}".strip()
        body = json.dumps({"code": TOO_LARGE, "msg": f"the request is larger than the market's limit of {limit} "
                                                     f"bytes for {where}"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
