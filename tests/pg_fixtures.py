"""A real PostgreSQL 16 for the tests (the `pgserver` package ships the binaries; no root, no network)."""
from __future__ import annotations

import shutil
import tempfile
import uuid

import pytest


@pytest.fixture(scope="session")
def pg_server_url():
    """Its data directory is directly under the system temporary directory: run as root, pgserver starts the
    server as its own user, which cannot enter pytest's private (0700) temporary tree."""
    import pgserver

    data = tempfile.mkdtemp(prefix="swarm-pg-")
    server = pgserver.get_server(data, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server_url) -> str:
    """A fresh database per test on the session's server: no state carries over."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    address, _, query = pg_server_url.partition("?")  # postgresql://postgres:@/postgres?host=/tmp/...
    base = address.rpartition("/")[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")
