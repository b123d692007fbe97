"""Market service: the reply shape of Beimingwu's backend and the errors every endpoint may answer.

Success is ``{"code": 0, "msg": "ok", "data": {...}}``. Every refusal is a
:class:`ServiceError` with a non-zero ``code``, a message that says what was
wrong, and a fitting HTTP status (4xx for anything the request got wrong); the
stock client looks only at ``code``.
"""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse

BAD_REQUEST, UNAUTHORISED, FORBIDDEN, NOT_FOUND, TOO_LARGE, REJECTED, BUSY, INTERNAL = 1, 2, 3, 4, 5, 6, 7, 99
_STATUS = {BAD_REQUEST: 400, UNAUTHORISED: 401, FORBIDDEN: 403, NOT_FOUND: 404, TOO_LARGE: 413, REJECTED: 422,
           BUSY: 503, INTERNAL: 500}
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):\n(?:[ \t].*\n|\n)*")
_PATH = re.compile(r"(?<![\w.~])/(?:[^\s'\"/:,;()\[\]]+/)+([^\s'\"/:,;()\[\]]*)")


class ServiceError(Exception):
    """A request the market refuses; becomes ``{"code": code, "msg": message}``."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "msg": self.message}, status_code=_STATUS[self.code])


def public_message(text, limit: int = 2000) -> str:
    """A message from the market's checks fit for a client: each Python traceback cut to its last line (the
    exception), every absolute path cut to its file name, at most ``limit`` characters."""
    text = _TRACEBACK.sub("", str(text))
    text = _PATH.sub(lambda m: m.group(1) or "<folder>", text)
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    return text if len(text) <= limit else text[:limit] + " ..."


def ok(**data) -> dict:
    return {"code": 0, "msg": "ok", "data": data}
