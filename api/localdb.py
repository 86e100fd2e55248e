"""The project-local PostGIS cluster: data under .wangge/pg, its own port, never 5432.

As root, PostgreSQL refuses to run; the server then runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import time
from pathlib import Path

from geo.localtime import TZ_NAME

PG_BIN = Path(os.environ.get("WANGGE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _as_server_user(cmd), check=check, text=True, capture_output=True, cwd="/"
    )


def cluster_dir(data_dir: Path) -> Path:
    """Folder of the local cluster (git-ignored)."""
    return data_dir / "pg"


def status(data_dir: Path) -> tuple[bool, str]:
    """Return (running, message)."""
    pgdata = cluster_dir(data_dir) / "data"
    if not (pgdata / "PG_VERSION").exists():
        return False, f"no cluster at {pgdata}"
    res = _run([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "status"], check=False)
    return res.returncode == 0, res.stdout.strip() or res.stderr.strip()


def _let_server_user_in(path: Path) -> list[str]:
    """As root, the server runs as ``postgres``, which must be able to pass through every folder
    above the cluster. A checkout in a private folder (``mktemp -d``: mode 700) would make
    initdb fail with "permission denied": add traverse-only permission (o+x, no listing) to
    such folders owned by root, and say so."""
    done = []
    for folder in reversed(path.parents):
        st = folder.stat()
        if st.st_uid == 0 and not st.st_mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            done.append(f"added o+x (traverse only) to {folder} so the postgres user can reach "
                        "the cluster")
    return done


def start(data_dir: Path, port: int) -> str:
    """Create (first time) and start the cluster; idempotent."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(
            f"PostgreSQL 15 server not found in {PG_BIN}. Install it with "
            "`apt-get install postgresql-15 postgresql-15-postgis-3` or set WANGGE_DATABASE_URL."
        )
    base = cluster_dir(data_dir)
    pgdata = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    messages = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (data_dir, base):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        messages += _let_server_user_in(data_dir.resolve())
    if not (pgdata / "PG_VERSION").exists():
        _run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        conf = pgdata / "postgresql.conf"
        with open(conf, "a", encoding="utf-8") as fh:
            fh.write(
                "\n# wangge\nmax_connections = 200\nshared_buffers = 256MB\n"
                "work_mem = 32MB\nmaintenance_work_mem = 256MB\nfsync = on\n"
                f"timezone = '{TZ_NAME}'\n"
            )
        messages.append(f"initialised cluster in {pgdata}")
    running, _ = status(data_dir)
    if running:
        messages.append(f"PostGIS already running on 127.0.0.1:{port}")
        return "; ".join(messages)
    res = _run(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(pgdata),
            "-l",
            str(base / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=False,
    )
    if res.returncode != 0:
        log = (base / "server.log").read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"could not start PostgreSQL on port {port}:\n{res.stderr}\n{log}")
    messages.append(f"PostGIS started on 127.0.0.1:{port}")
    ensure_database(port, "wangge")
    return "; ".join(messages)


def stop(data_dir: Path) -> str:
    """Stop the cluster if it runs."""
    pgdata = cluster_dir(data_dir) / "data"
    running, msg = status(data_dir)
    if not running:
        return f"not running ({msg})"
    _run([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"])
    return "stopped"


def psql(port: int, sql: str, dbname: str = "postgres") -> str:
    """Run one SQL command through psql on the local cluster."""
    exe = shutil.which("psql") or str(PG_BIN / "psql")
    res = subprocess.run(
        [exe, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", dbname,
         "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        check=True, text=True, capture_output=True,
    )
    return res.stdout.strip()


def ensure_database(port: int, dbname: str) -> None:
    """Create ``dbname`` with PostGIS if it does not exist."""
    for _ in range(50):
        try:
            exists = psql(port, f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'")
            break
        except subprocess.CalledProcessError:
            time.sleep(0.2)
    else:
        raise RuntimeError(f"PostgreSQL on port {port} does not answer")
    if exists != "1":
        psql(port, f'CREATE DATABASE "{dbname}"')
    psql(port, "CREATE EXTENSION IF NOT EXISTS postgis", dbname=dbname)
