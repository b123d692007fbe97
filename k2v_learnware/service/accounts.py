"""Market service: developer accounts, with tokens stored only as hashes.

A token is 32 random bytes (``secrets.token_urlsafe``), so a plain SHA-256 of it
is as strong as a slow password hash and lets every request be checked with one
indexed lookup. The accounts live in the market's own database, so every worker
process (and every server on the same database) knows them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time

from sqlalchemy import Column, Float, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ..market.database import create_tables

EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")

metadata = MetaData()
account_table = Table(
    "k2v_account", metadata,
    Column("email", String(320), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created", Float, nullable=False),
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_email(email) -> str:
    if not isinstance(email, str):
        raise TypeError(f"email must be a str, got {type(email).__name__}")
    if not EMAIL.fullmatch(email):
        raise ValueError(f"email must look like name@host (at most 320 characters), got {email!r}")
    return email.lower()  # one account per address, however it is capitalised


class Accounts:
    """The accounts table of one database."""

    def __init__(self, engine: Engine):
        self.engine = engine
        create_tables(metadata, engine)

    def issue_token(self, email: str) -> str:
        """A new token for ``email``, creating the account if needed (an older token stops working)."""
        email = check_email(email)
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            changed = conn.execute(update(account_table).where(account_table.c.email == email)
                                   .values(token_sha256=_digest(token))).rowcount
            if not changed:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(account_table).values(email=email, token_sha256=_digest(token),
                                                                  created=time.time()))
                except IntegrityError:
                    conn.execute(update(account_table).where(account_table.c.email == email)
                                 .values(token_sha256=_digest(token)))
        return token

    def email_for(self, token) -> str | None:
        """The account a token belongs to, or None."""
        if not isinstance(token, str) or not token or len(token) > 256:
            return None
        with self.engine.connect() as conn:
            return conn.execute(select(account_table.c.email)
                                .where(account_table.c.token_sha256 == _digest(token))).scalar_one_or_none()
