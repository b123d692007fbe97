"""Market service: what a server serves, handed to every worker process through the environment.

uvicorn starts its worker processes itself and builds one application in each
from a factory; the factory reads these settings from ``K2V_SERVICE_*``
variables that :func:`~.server.serve` sets before it starts them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .._checks import positive_float, positive_int

PREFIX = "K2V_SERVICE_"
DEFAULT_MAX_UPLOAD = 200 * 1024 * 1024
#: How long one submission (an add or an update: the market's checks run the learnware's code) may take.
DEFAULT_SUBMISSION_TIMEOUT_S = 300.0
#: The data memory (RLIMIT_DATA) one submission's process may add to the libraries it starts with; 0: no limit.
DEFAULT_SUBMISSION_MEMORY = 4 << 30


@dataclass(frozen=True)
class ServiceSettings:
    root: Path
    market: str = "k2v"
    database_url: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    max_unzipped_bytes: int = 5 * DEFAULT_MAX_UPLOAD
    submission_timeout_s: float = DEFAULT_SUBMISSION_TIMEOUT_S
    submission_memory_bytes: int = DEFAULT_SUBMISSION_MEMORY

    def __post_init__(self):
        if not isinstance(self.root, (str, Path)) or not str(self.root):
            raise TypeError(f"root must be a path, got {self.root!r}")
        object.__setattr__(self, "root", Path(self.root).expanduser().resolve())
        positive_int(self.max_upload_bytes, "max_upload_bytes")
        positive_int(self.max_unzipped_bytes, "max_unzipped_bytes")
        positive_int(self.submission_memory_bytes, "submission_memory_bytes", minimum=0)
        object.__setattr__(self, "submission_timeout_s", positive_float(self.submission_timeout_s,
                                                                         "submission_timeout_s (seconds)"))

    def to_environ(self) -> dict:
        env = {f"{PREFIX}ROOT": str(self.root), f"{PREFIX}MARKET": self.market,
               f"{PREFIX}MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
               f"{PREFIX}MAX_UNZIPPED_BYTES": str(self.max_unzipped_bytes),
               f"{PREFIX}SUBMISSION_TIMEOUT_S": repr(self.submission_timeout_s),
               f"{PREFIX}SUBMISSION_MEMORY_BYTES": str(self.submission_memory_bytes)}
        if self.database_url:
            env[f"{PREFIX}DATABASE_URL"] = self.database_url
        return env

    @classmethod
    def from_environ(cls, environ=os.environ) -> "ServiceSettings":
        if f"{PREFIX}ROOT" not in environ:
            raise ValueError(f"{PREFIX}ROOT is not set: start the service with `k2v-learnware serve --root DIR`")
        return cls(root=environ[f"{PREFIX}ROOT"], market=environ.get(f"{PREFIX}MARKET", "k2v"),
                   database_url=environ.get(f"{PREFIX}DATABASE_URL") or None,
                   max_upload_bytes=int(environ.get(f"{PREFIX}MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD)),
                   max_unzipped_bytes=int(environ.get(f"{PREFIX}MAX_UNZIPPED_BYTES", 5 * DEFAULT_MAX_UPLOAD)),
                   submission_timeout_s=float(environ.get(f"{PREFIX}SUBMISSION_TIMEOUT_S",
                                                          DEFAULT_SUBMISSION_TIMEOUT_S)),
                   submission_memory_bytes=int(environ.get(f"{PREFIX}SUBMISSION_MEMORY_BYTES",
                                                           DEFAULT_SUBMISSION_MEMORY)))
