"""The throw-away PostgreSQL server of tests/_postgres.py really serves clients.

Through SQLAlchemy with a plain ``postgresql://`` URL (psycopg 3 under SQLAlchemy
2.1) and from two processes at once.
"""

import subprocess
import sys
import textwrap

from sqlalchemy import create_engine, text


def test_server_url_has_no_database_name(postgres_url):
    assert postgres_url.startswith("postgresql://postgres@127.0.0.1:")
    assert "/" not in postgres_url[len("postgresql://"):]


def test_sqlalchemy_round_trip(postgres_url):
    engine = create_engine(postgres_url + "/postgres")
    try:
        assert engine.dialect.name == "postgresql"
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE k2v_round_trip (id integer PRIMARY KEY, name text)"))
            conn.execute(text("INSERT INTO k2v_round_trip VALUES (:id, :name)"),
                         [{"id": 1, "name": "lane"}, {"id": 2, "name": "know2vec"}])
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, name FROM k2v_round_trip ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "lane"), (2, "know2vec")]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS k2v_round_trip"))
        engine.dispose()


# Each process connects, signs in, then stays connected until it sees both
# signatures: neither can finish unless both are connected at the same time.
_CLIENT = textwrap.dedent("""
    import sys, time
    from sqlalchemy import create_engine, text
    url, name = sys.argv[1], sys.argv[2]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO k2v_clients VALUES (:name, pg_backend_pid())"), {"name": name})
        deadline = time.monotonic() + 8
        while conn.execute(text("SELECT count(*) FROM k2v_clients")).scalar() < 2:
            if time.monotonic() > deadline:
                sys.exit("the other process never connected")
            time.sleep(0.05)
    print(engine.dialect.driver)
""")


def test_two_processes_connect_concurrently(postgres_url):
    url = postgres_url + "/postgres"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE k2v_clients (name text PRIMARY KEY, backend integer)"))
    try:
        clients = [subprocess.Popen([sys.executable, "-c", _CLIENT, url, name],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for name in ("a", "b")]
        results = [client.communicate(timeout=30) for client in clients]
        for client, (out, err) in zip(clients, results):
            assert client.returncode == 0, err
            assert out.strip() == "psycopg"  # SQLAlchemy's pick for a plain postgresql://
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, backend FROM k2v_clients ORDER BY name")).all()
        assert [r.name for r in rows] == ["a", "b"]
        assert rows[0].backend != rows[1].backend  # two server processes
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS k2v_clients"))
        engine.dispose()


def test_drop_databases_clears_test_databases(postgres_server):
    postgres_server.psql("CREATE DATABASE k2v_drop_me")
    assert "k2v_drop_me" in postgres_server.databases()
    assert "k2v_drop_me" in postgres_server.drop_databases()
    assert postgres_server.databases() == []
