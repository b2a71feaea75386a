"""Background processes tracked by pid files: start detached, find again, stop politely then firmly."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

_TERMINATING = (signal.SIGTERM, signal.SIGKILL, signal.SIGINT)


def is_alive(pid: int, marker: str | None = None) -> bool:
    """True if ``pid`` runs and is not a zombie; with ``marker``, its command line must also contain it.

    The marker guards against pid reuse: after a reboot a stale pid file may name an unrelated process.
    """
    with contextlib.suppress(ChildProcessError, OSError):
        # Reap it if it is our own child that already exited, otherwise kill(pid, 0) still succeeds.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user (the postgres system user)
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True  # no procfs (macOS): trust kill(0)
    try:
        # Zombies whose parent never reaps them (PID 1 in some containers) are dead for our purposes.
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    # An empty command line is a process inside execve: Popen returns once the close-on-exec pipe closes, which
    # happens before the kernel sets up the new argument area. Under load that window is long enough to be seen.
    return marker is None or not cmdline.strip() or marker in cmdline


def running_pid(pid_file: Path, marker: str | None = None) -> int | None:
    """The pid recorded in ``pid_file`` if that process still runs; a stale file is removed."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if is_alive(pid, marker):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``cmd`` detached (own session) with stdout and stderr appended to ``log_path``; returns its pid.

    Its own session keeps it out of the terminal's process group, so a Ctrl-C in ``./payung`` does not reach it,
    and lets :func:`terminate` signal the whole group (children included).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log.write(f"\n===== {stamp} starting: {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(  # noqa: S603 - our own command line, no shell
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def send_signal(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid`` (or to ``pid`` alone if it leads none)."""
    with contextlib.suppress(ProcessLookupError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to exit; True if it did."""
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(pid: int, timeout: float) -> bool:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL. Returns True if it stopped without the SIGKILL."""
    send_signal(pid, signal.SIGTERM)
    if wait_gone(pid, timeout):
        return True
    send_signal(pid, signal.SIGKILL)
    wait_gone(pid, 10)
    return False


def is_terminating(sig: int) -> bool:
    """Whether ``sig`` is expected to end the process (so waiting for the exit makes sense)."""
    return sig in _TERMINATING


def port_open(host: str, port: int) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 50) -> str:
    """The last ``lines`` lines of a log file ('' if it does not exist)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            # Enough bytes for the requested lines without reading a large log whole.
            f.seek(max(0, size - 400 * max(lines, 1)))
            data = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
