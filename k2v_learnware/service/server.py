"""Market service: ``k2v-learnware serve``, uvicorn with several worker processes on one store.

The market is opened once here first, so a wrong root, market id or database
URL fails with one clear message before any worker starts; every worker then
builds its own application from the same settings (:func:`.app.app_from_environ`).
"""

from __future__ import annotations

import os

from .._checks import positive_int
from .settings import ServiceSettings


def serve(settings: ServiceSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "warning") -> None:
    import uvicorn

    from ..market import instantiate_market

    port = positive_int(port, "port")
    if port > 65535:
        raise ValueError(f"port must be at most 65535, got {port}")
    workers = positive_int(workers, "workers")
    market = instantiate_market(settings.market, root=settings.root, database_url=settings.database_url)
    market.learnware_organizer.store.engine.dispose()
    os.environ.update(settings.to_environ())
    uvicorn.run("k2v_learnware.service.app:app_from_environ", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, timeout_graceful_shutdown=5)
