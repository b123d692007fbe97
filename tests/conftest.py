"""Shared fixtures: real bundled data (scikit-learn's digits), split once."""

import uuid
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

warnings.filterwarnings("ignore", message=".*fork.*")


@pytest.fixture(scope="session")
def digits():
    """Digits as (train X, test X, train y, test y); X are 64-d vectors with values 0..16."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X.astype(np.float32), y, test_size=0.3, random_state=0, stratify=y)


def as_images(X):
    return X.reshape(-1, 1, 8, 8)


# ---------------------------------------------------------------------------
# A real PostgreSQL server for the market's database (see tests/_postgres.py).

from tests._postgres import PostgresServer, PostgresUnavailable  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server():
    """One throw-away PostgreSQL server for the whole session (a PostgresServer).

    Skipped, with the reason, only when no PostgreSQL server binaries are installed
    (`make test` installs Debian's postgresql package as root); any other failure to
    start is an error.
    """
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as reason:
        pytest.skip(str(reason))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server):
    """``postgresql://postgres@127.0.0.1:<port>``: the session's server, no database name."""
    return postgres_server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """Each test twice: None (the market's default SQLite under its root), then PostgreSQL.

    The PostgreSQL URL names a database of its own for this test,
    ``postgresql://postgres@127.0.0.1:<port>/k2v_test_<hex>``, which the market
    creates on first use; every non-built-in database is dropped afterwards.
    """
    if request.param == "sqlite":
        yield None
        return
    server = request.getfixturevalue("postgres_server")
    try:
        yield f"{server.url}/k2v_test_{uuid.uuid4().hex[:12]}"
    finally:
        server.drop_databases()
