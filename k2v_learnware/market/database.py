"""Market stage: connecting to the market's database, SQLite or PostgreSQL, from many processes at once.

A URL is checked and normalised (bare ``postgresql://`` means psycopg 3), a
PostgreSQL database that does not exist yet is created, SQLite is opened in WAL
mode with a long busy wait so several writing processes queue instead of
failing, and tables are created race-safely. :mod:`.store` holds the rows.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError


def redacted(database_url: str) -> str:
    """The URL with any password replaced, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", database_url)


def normalise_url(database_url: str) -> URL:
    """A SQLAlchemy URL; bare ``postgresql://`` / ``postgres://`` mean psycopg 3 (the declared driver)."""
    if not isinstance(database_url, str):
        raise TypeError(f"database_url must be a str, got {type(database_url).__name__}")
    if not database_url.strip():
        raise ValueError("database_url must be a non-empty SQLAlchemy URL, got an empty string")
    try:
        url = make_url(database_url.strip())
    except Exception:
        raise ValueError(f"database_url is not a database URL: {redacted(database_url)!r}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if not (url.drivername.startswith("sqlite") or url.drivername.startswith("postgresql")):
        raise ValueError(f"database_url must be sqlite:// or postgresql://, got {url.drivername}://")
    if url.drivername.startswith("sqlite") and url.database in (None, "", ":memory:"):
        raise ValueError("database_url must name a SQLite file (sqlite:///path/market.db): an in-memory "
                         "database is private to one connection and would lose the market")
    if url.drivername.startswith("sqlite") and not url.database.startswith("file:"):
        path = Path(url.database).expanduser()
        if not path.parent.is_dir():
            raise ValueError(f"database_url names a SQLite file in a folder that does not exist: {path.parent} "
                             "(create the folder first)")
        if path.is_dir():
            raise ValueError(f"database_url must name a SQLite file, but {path} is a directory")
    return url


class MissingDatabase(ValueError):
    """The URL's database is not there, and the caller asked not to create it (a read must not make a market)."""


def _create_postgres_database(url: URL) -> None:
    """Create the URL's database when the server has none of that name (needs CREATEDB)."""
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}).first()
            if not exists:
                quoted = admin.dialect.identifier_preparer.quote_identifier(url.database)
                try:
                    conn.execute(text(f"CREATE DATABASE {quoted}"))
                except (IntegrityError, ProgrammingError) as err:
                    if "already exists" not in str(err) and "duplicate key" not in str(err):
                        raise ValueError(f"database {url.database!r} does not exist and cannot be created: "
                                         f"{str(getattr(err, 'orig', err)).strip()}") from None
    finally:
        admin.dispose()


def create_tables(tables: MetaData, engine: Engine) -> None:
    """Create missing tables; several processes may try at the same moment (a race is retried)."""
    for attempt in range(5):
        try:
            tables.create_all(engine, checkfirst=True)
            return
        except (IntegrityError, ProgrammingError, OperationalError):
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def open_engine(database_url: str, create: bool = True) -> Engine:
    """An engine for the URL, with SQLite set up for several writing processes (WAL, long busy wait).

    ``create=False`` (a reader: ``k2v-learnware list``) opens only a database
    that is there, a :class:`MissingDatabase` otherwise, and changes nothing in it.
    """
    url = normalise_url(database_url)
    if url.drivername.startswith("sqlite"):
        if not create and not Path(url.database).expanduser().is_file():
            raise MissingDatabase(f"there is no SQLite database {url.database}")
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 60000")
            if create:  # a market's database is in WAL mode from its first open on
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()

        return engine
    engine = create_engine(url, pool_pre_ping=True)
    try:
        engine.connect().close()
    except OperationalError as err:
        if url.database and "does not exist" in str(err) and not create:
            engine.dispose()
            raise MissingDatabase(f"there is no database {url.database!r} on "
                                  f"{url.set(database=None).render_as_string(hide_password=True)}") from None
        if url.database and "does not exist" in str(err):
            _create_postgres_database(url)
        else:
            raise ValueError(f"cannot connect to {url.render_as_string(hide_password=True)}: "
                             f"{str(err.orig).strip()}") from None
    return engine
