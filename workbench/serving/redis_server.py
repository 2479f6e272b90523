"""A project-local Redis: Debian's ``redis-server`` started on 127.0.0.1, or the one ``WORKBENCH_REDIS_URL`` names.

    with RedisServer() as server:          # free port, a temporary directory, no persistence
        print(server.url)                  # redis://127.0.0.1:PORT/0
        server.stop(); server.start()      # stop it to watch the service degrade, start it again

The server is a child process of this one, started and stopped by its PID only. It binds
127.0.0.1, persists nothing (``save ""``, no append-only file: the feature store is
re-materialised from the offline data, and the event log lives in SQLite), and keeps its
working directory under ``dir`` (default: a fresh temporary directory, removed on stop).
`pause` freezes every client command for a while (``CLIENT PAUSE``), which is how a slow
Redis is simulated without faking one.

`redis_url` returns ``WORKBENCH_REDIS_URL`` when it is set (an existing Redis, e.g. a shared
one) and otherwise starts a server and returns its URL with the server to stop.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ENV_URL = "WORKBENCH_REDIS_URL"
INSTALL_HINT = "install it with `apt-get install redis-server` (make test does this when it runs as root)"


def find_redis_server() -> str:
    """Path of the ``redis-server`` executable; RuntimeError saying how to install it when missing."""
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if path is None:
        raise RuntimeError(f"redis-server was not found on PATH: {INSTALL_HINT}")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ping(host: str, port: int, timeout: float = 0.2) -> bool:
    """One RESP ``PING`` over a raw socket (no client library, no retries)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """Debian's ``redis-server`` as a child process on ``host:port`` (port None: a free one).

    dir: working directory (None: a temporary one, deleted by `stop`); maxmemory_mb: memory cap
    (evicting least-recently-used keys when reached); die_with_parent: the server gets SIGTERM when
    this process dies, SIGKILL included, whichever thread started it (`workbench.serving.children.popen_tied`).
    """

    def __init__(self, port: int | None = None, dir: str | Path | None = None, host: str = "127.0.0.1",
                 maxmemory_mb: int = 256, die_with_parent: bool = False) -> None:  # fmt: skip
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"host={host!r}: the project's Redis binds a loopback address only (127.0.0.1)")
        if port is not None and not 1 <= int(port) <= 65535:
            raise ValueError(f"port={port!r}: expected a TCP port in [1, 65535] or None (a free one)")
        self.host, self.port, self.maxmemory_mb = host, port, int(maxmemory_mb)
        self.die_with_parent = die_with_parent
        self._dir_arg = Path(dir) if dir is not None else None
        self.dir: Path | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("RedisServer has no port yet: call start() first")
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server (again, on the same port and directory after `stop`) and wait until it answers PING."""
        if self.running:
            return self
        exe = find_redis_server()
        if self.port is None:
            self.port = free_port(self.host)
        if self.dir is None:
            self.dir = self._dir_arg or Path(tempfile.mkdtemp(prefix="workbench-redis-"))
            self.dir.mkdir(parents=True, exist_ok=True)
        args = [exe, "--port", str(self.port), "--bind", self.host, "--dir", str(self.dir), "--save", "",
                "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning",
                "--maxmemory", f"{self.maxmemory_mb}mb", "--maxmemory-policy", "allkeys-lru",
                "--logfile", str(self.dir / "redis.log")]  # fmt: skip
        from workbench.serving.children import popen_tied, wait_ready

        popen = popen_tied if self.die_with_parent else subprocess.Popen
        self.process = popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready(self.process, lambda: _ping(self.host, self.port), timeout, f"redis-server on port {self.port}",
                       log=self.dir / "redis.log")  # fmt: skip
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self, remove_dir: bool = False) -> None:
        """Stop the server (SIGTERM to its PID, then SIGKILL after 5 s); ``remove_dir`` also deletes a
        temporary working directory (a configured ``dir`` is always kept)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc is not None and proc.stderr:
            proc.stderr.close()
        if remove_dir and self.dir is not None and self._dir_arg is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def pause(self, ms: int) -> None:
        """Freeze every client command for ``ms`` milliseconds (``CLIENT PAUSE ms ALL``): a slow Redis."""
        if not self.running:
            raise RuntimeError("RedisServer.pause: the server is not running")
        import redis

        client = redis.Redis(host=self.host, port=self.port, socket_timeout=1.0, socket_connect_timeout=1.0)
        try:
            client.execute_command("CLIENT", "PAUSE", int(ms), "ALL")
        finally:
            client.close()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop(remove_dir=True)

    def __repr__(self) -> str:
        state = f"pid {self.process.pid}" if self.running else "stopped"
        return f"RedisServer({self.host}:{self.port}, {state}, dir={self.dir})"


def redis_url(port: int | None = None, dir: str | Path | None = None,
              die_with_parent: bool = False) -> tuple[str, RedisServer | None]:  # fmt: skip
    """``(url, server)``: ``WORKBENCH_REDIS_URL`` with no server when set, else a started `RedisServer`
    (the caller stops it)."""
    url = os.environ.get(ENV_URL)
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{ENV_URL}={url!r}: expected a redis:// URL")
        return url, None
    server = RedisServer(port=port, dir=dir, die_with_parent=die_with_parent).start()
    return server.url, server
