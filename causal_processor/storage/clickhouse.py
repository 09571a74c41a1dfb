"""The one ClickHouse client factory every component uses.

`chdb://<data dir>` runs ClickHouse inside this process (chdb); `http(s)://host:port/db`
talks to a server. chdb hosts ONE engine (one data directory) per process: clients
on the same directory share it from any thread, a second directory raises while a
client of the first is open, and a second PROCESS cannot open a directory another
process holds (measured with chdb 4.4 / engine 26.9). So in chdb mode the API, the
causal engine and replay run inside the processor's process, or everyone uses a server.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, ProgrammingError

DEFAULT_DATABASE = "kprobe"
_lock = threading.Lock()


class StorageError(Exception):
    """Storage cannot be reached or opened; the message says what to change."""


def default_dsn() -> str:
    """`chdb://` under $KPROBE_DATA_DIR (default /var/lib/kprobe)."""
    data_dir = os.environ.get("KPROBE_DATA_DIR", "/var/lib/kprobe")
    return f"chdb://{os.path.abspath(os.path.join(data_dir, 'clickhouse'))}"


def wal_dir(dsn: str) -> str:
    """The processor's write-ahead log for this DSN's database: inside the chdb directory
    (`<dir>/kprobe_wal/<database>`: the log lives and goes with the data it protects; ClickHouse
    ignores the directory), `$KPROBE_DATA_DIR/wal/<database>` for a server."""
    base, database = split_dsn(dsn)
    if base.startswith("chdb:"):
        return os.path.join(urlparse(base).path, "kprobe_wal", database)
    return os.path.join(os.environ.get("KPROBE_DATA_DIR", "/var/lib/kprobe"), "wal", database)


def split_dsn(dsn: str) -> tuple[str, str]:
    """(dsn without database, database) for both DSN kinds.

    chdb: `chdb:///abs/dir` or `chdb:///abs/dir?database=x`; server: `http://h:8123/x`.
    """
    u = urlparse(dsn)
    query = parse_qs(u.query)
    if u.scheme == "chdb":
        database = query.pop("database", [DEFAULT_DATABASE])[0]
        path = u.netloc + u.path if u.netloc not in ("", "memory") else u.path
        rest = urlencode({k: v[0] for k, v in query.items()})
        return f"chdb://{path or '/'}" + (f"?{rest}" if rest else ""), database
    if u.scheme in ("http", "https"):
        database = u.path.strip("/") or query.pop("database", [DEFAULT_DATABASE])[0]
        rest = urlencode({k: v[0] for k, v in query.items()})
        return urlunparse((u.scheme, u.netloc, "", "", rest, "")), database
    raise StorageError(f"unsupported ClickHouse DSN {dsn!r}: use chdb:///dir or http(s)://host:port/db")


def connect(dsn: str | None = None, *, create_database: bool = True) -> Client:
    """A clickhouse-connect client on the DSN's database (created if missing).

    Each call returns a new client: clients are not safe to share between threads
    that stream results, and chdb clients on one directory are cheap.
    """
    base, database = split_dsn(dsn or default_dsn())
    if base.startswith("chdb:"):
        os.makedirs(urlparse(base).path, exist_ok=True)
    try:
        with _lock:
            client = clickhouse_connect.get_client(dsn=base)
            if create_database:
                client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            client.database = database
            if base.startswith("chdb:"):
                client.command(f"USE `{database}`")
    except ProgrammingError as e:
        raise StorageError(
            f"cannot open {base}: {e}. chdb allows one data directory per process and one "
            "process per directory: stop the other user or point everyone at a ClickHouse server"
        ) from e
    except (ClickHouseError, OSError) as e:
        raise StorageError(f"cannot reach ClickHouse at {base}: {e}") from e
    return client
