"""The dedicated benchmark database: its URL, and creating it if it is missing."""

import os

import dj_database_url
import psycopg
from psycopg import sql

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/relayer_bench"


def bench_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL


def database_name(url: str) -> str:
    return dj_database_url.parse(url)["NAME"]


def ensure_database(url: str) -> None:
    """Creates the database named in `url` (on the same server) unless it exists."""
    config = dj_database_url.parse(url)
    params = {
        "host": config["HOST"] or "127.0.0.1",
        "port": config["PORT"] or 5432,
        "user": config["USER"] or "postgres",
        "password": config["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**params) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
