"""The throw-away PostgreSQL server of the tests: :mod:`k2v_learnware.bench.local_postgres`.

The service benchmark starts one too, so the one copy lives in the package;
this module keeps the tests' import path (``from tests._postgres import ...``).
"""

from k2v_learnware.bench.local_postgres import (  # noqa: F401
    BUILTIN_DATABASES,
    PG_ROOT,
    SERVER_USER,
    SUPERUSER,
    PostgresServer,
    PostgresUnavailable,
    find_bin_dir,
    free_port,
)
