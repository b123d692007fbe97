"""Market service: ``k2v-learnware serve``, uvicorn with several worker processes on one store.

The address and the market are checked here first, so a port in use, a host
that does not resolve, a wrong root, market id or database URL fails with one
clear message before any worker starts (uvicorn itself would log the failure
and leave with its own exit code, which no script can read as an error of
ours); every worker then builds its own application from the same settings
(:func:`.app.app_from_environ`).
"""

from __future__ import annotations

import os
import socket

from .._checks import positive_int
from .settings import ServiceSettings


class ServiceStartError(RuntimeError):
    """The server could not start listening (uvicorn gave up)."""


def check_address(host: str, port: int) -> None:
    """Bind ``host:port`` once as uvicorn will (``SO_REUSEADDR``), so a taken port or a bad host is a ValueError."""
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be a host name or address, got {host!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as err:
        raise ValueError(f"cannot listen on {host}:{port}: the host does not resolve ({err})") from None
    family, kind, proto, _, address = infos[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as err:
        raise ValueError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


def serve(settings: ServiceSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "warning", on_ready=None) -> None:
    """Check the address and the market, call ``on_ready(url)``, then serve until stopped."""
    import uvicorn

    from ..market import instantiate_market

    port = positive_int(port, "port", maximum=65535)
    workers = positive_int(workers, "workers")
    check_address(host, port)
    market = instantiate_market(settings.market, root=settings.root, database_url=settings.database_url)
    market.learnware_organizer.store.engine.dispose()
    os.environ.update(settings.to_environ())
    if on_ready is not None:
        on_ready(f"http://{host}:{port}")
    try:
        uvicorn.run("k2v_learnware.service.app:app_from_environ", factory=True, host=host, port=port,
                    workers=workers, log_level=log_level, timeout_graceful_shutdown=5)
    except SystemExit as exc:  # uvicorn leaves this way when it cannot bind or a worker cannot start
        if exc.code not in (None, 0):
            raise ServiceStartError(f"the server on {host}:{port} stopped at start-up (uvicorn exit code "
                                    f"{exc.code}; its log above says why)") from None
