"""A throw-away PostgreSQL server, for the tests and the service benchmark.

The tests that run the market on PostgreSQL, and ``python -m k2v_learnware.bench
service``, need a real server, and CI is a bare Debian machine with nothing
running. ``make test`` installs Debian's ``postgresql`` package (see the
Makefile); this module then starts a private cluster from the package's
binaries, in a temporary directory, on a free local port:

    with PostgresServer() as server:
        server.url   # "postgresql://postgres@127.0.0.1:<port>"  (no database name)

The Debian package's own ``main`` cluster (port 5432, /var/lib/postgresql) and its
service are never used; whether they run makes no difference here.

How the server is run:

* binaries: ``/usr/lib/postgresql/<version>/bin`` with the highest version that has
  ``initdb``, ``pg_ctl`` and ``postgres`` (``$PG_BINDIR`` overrides the search);
* PostgreSQL refuses to run as root, so as root the server programs run as the
  ``postgres`` system user that the Debian package creates (``runuser -u postgres``)
  and the temporary directory is handed to that user; as any other user they run
  as that user;
* ``initdb -A trust -U postgres``: superuser ``postgres``, no password, local only;
* ``pg_ctl -w start`` with ``listen_addresses=127.0.0.1``, a free port, its own
  socket directory, ``fsync=off`` (nothing here needs to survive a crash) and
  ``max_connections=200``;
* ``stop()`` is ``pg_ctl -m immediate stop`` and removes the directory.

The URL has no database name on purpose: the market appends its own database name
and creates that database itself. ``drop_databases()`` drops every database but
the built-in ones, so that one test's market databases do not leak into the next.

:class:`PostgresUnavailable` is raised only when no server binaries are installed
(the fixture turns it into a skip with its message); any other failure to start
is an error, with the server log in the message.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"
SUPERUSER = "postgres"
#: Databases that initdb creates; drop_databases() keeps them.
BUILTIN_DATABASES = ("postgres", "template0", "template1")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine; the message says how to get them."""


def _version_key(path: Path):
    # "15", "9.6", "16beta1" -> numeric parts, so 16 > 15 > 9.6.
    return [int(part) for part in re.findall(r"\d+", path.name)]


def find_bin_dir() -> Path:
    """The bin directory of the highest installed PostgreSQL version.

    ``$PG_BINDIR`` overrides the search. Raises PostgresUnavailable when none has
    all of initdb, pg_ctl and postgres.
    """
    override = os.environ.get("PG_BINDIR")
    candidates = [Path(override)] if override else sorted(
        (p / "bin" for p in PG_ROOT.glob("*") if p.is_dir()),
        key=lambda b: _version_key(b.parent), reverse=True)
    for bin_dir in candidates:
        if all((bin_dir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bin_dir
    where = override or f"{PG_ROOT}/<version>/bin"
    raise PostgresUnavailable(
        f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) in {where}: "
        "`make test` installs them as root (apt-get install postgresql)")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One private PostgreSQL cluster: ``start()``, ``url``, ``stop()`` (or ``with``)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 max_connections: int = 200):
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.bin_dir: Path | None = None
        self.tmp_dir: Path | None = None
        self.startup_seconds: float | None = None
        self._prefix: list[str] = []  # "runuser -u postgres --" when we are root

    # -- paths ------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.tmp_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.tmp_dir / "socket"

    @property
    def log_file(self) -> Path:
        return self.tmp_dir / "server.log"

    @property
    def url(self) -> str:
        """``postgresql://postgres@HOST:PORT``: the server, no database name."""
        if self.port is None or self.tmp_dir is None:
            raise RuntimeError("the server is not started")
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}"

    # -- running programs ---------------------------------------------------------
    def _run(self, *args, as_server_user: bool = True, timeout: float = 120):
        command = (self._prefix if as_server_user else []) + [str(a) for a in args]
        done = subprocess.run(command, cwd=self.tmp_dir, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "LC_ALL": "C", "LANG": "C"})
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited with {done.returncode}:\n"
                f"{done.stdout}{done.stderr}{self._log_tail()}")
        return done.stdout

    def _log_tail(self, chars: int = 4000) -> str:
        try:
            return "\n--- server log ---\n" + self.log_file.read_text(errors="replace")[-chars:]
        except (OSError, TypeError):
            return ""

    def _set_up_user(self):
        """As root: run the server as ``postgres`` and give it the temporary directory."""
        if os.geteuid() != 0:
            self._prefix = []
            return
        try:
            user = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise RuntimeError(
                f"running as root, and PostgreSQL refuses to run as root, but there is "
                f"no {SERVER_USER!r} system user to run it as (the Debian package "
                "postgresql creates it)") from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root and `runuser` (util-linux) is missing")
        self._prefix = [runuser, "-u", SERVER_USER, "--"]
        for path in (self.tmp_dir, self.socket_dir):
            os.chown(path, user.pw_uid, user.pw_gid)

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> "PostgresServer":
        self.bin_dir = find_bin_dir()  # PostgresUnavailable: the only "cannot" case
        began = time.perf_counter()
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="k2v-postgres-"))
        try:
            self.socket_dir.mkdir(mode=0o700)
            self._set_up_user()
            # -N: no fsync of the new cluster; the C locale avoids locale surprises.
            self._run(self.bin_dir / "initdb", "-D", self.data_dir, "-A", "trust",
                      "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "-N")
            if self.port is None:
                self.port = free_port(self.host)
            options = (f"-c listen_addresses={self.host} -p {self.port} "
                       f"-k {self.socket_dir} -c fsync=off "
                       f"-c max_connections={self.max_connections}")
            self._run(self.bin_dir / "pg_ctl", "-D", self.data_dir, "-l", self.log_file,
                      "-w", "-t", "60", "-o", options, "start")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - began
        return self

    def stop(self):
        """Stop the server at once (``-m immediate``) and delete its directory."""
        if self.tmp_dir is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run(self.bin_dir / "pg_ctl", "-D", self.data_dir,
                          "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
            self.tmp_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- between tests -------------------------------------------------------------------
    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the server's own psql over TCP; returns unaligned tuples."""
        return self._run(self.bin_dir / "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                         "-h", self.host, "-p", self.port, "-U", SUPERUSER, "-d", database,
                         "-c", sql, as_server_user=False, timeout=60)

    def databases(self) -> list[str]:
        """The databases other than postgres, template0 and template1."""
        names = self.psql("SELECT datname FROM pg_database ORDER BY datname").split()
        return [name for name in names if name not in BUILTIN_DATABASES]

    def drop_databases(self) -> list[str]:
        """Drop every non-built-in database (closing its connections); returns their names."""
        names = self.databases()
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            self.psql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        return names
