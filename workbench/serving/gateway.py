"""The gateway in front of the replicas: Debian's nginx as load balancer, API-key check and rate limiter.

    keys = ApiKeys.load_or_create("data/gateway/keys.txt")   # generated on first use, outside git
    with Gateway(["127.0.0.1:8001", "127.0.0.1:8002"], keys) as gw:
        gw.url                                               # http://127.0.0.1:PORT

nginx runs as one child process of this one (``master_process off``, ``daemon off``), on a free
loopback port, with its configuration, temporary files and error log in a fresh temporary
directory (removed on stop); it is stopped by its PID and, with ``die_with_parent``, gets SIGTERM
when the thread that started it ends (no orphan after a SIGKILL). Same pattern as `RedisServer`.

What the gateway does, per request (nginx's phases, in this order):

1. **authentication** (``X-API-Key`` header): no key or an unknown one → 401; a key without the
   ``write`` scope on ``POST /events`` → 403. The answers are JSON naming the field, like the
   service's own 4xx. ``/healthz`` needs no key (load balancers and probes call it), nor do ``/gateway/status`` (nginx's
   stub_status) and ``/gateway/metrics`` (its connection gauges in Prometheus' text format).
2. **rate limit per key** (nginx ``limit_req``, a leaky bucket keyed by the key's *name*):
   ``rate`` requests per second (or per minute: ``"30r/m"``) with ``burst`` extra at once; over it
   → 429. Rejected requests never reach a replica.
3. **load balancing** over the replicas (round robin, keep-alive upstream connections). A replica
   that refuses connections or answers 502/503 is skipped and the request goes to the next one,
   ``POST /events`` included: events are idempotent (the log de-duplicates them by request id,
   position and type), so a retried batch is never counted twice.

**Request counts by status** (``status_counts``, the default): nginx writes one short access-log
line per request (``ENDPOINT STATUS``; the endpoint is /recommend, /events, /healthz, gateway or
other, so a scan of random paths cannot blow up the label set) and Debian's ``mtail``, a second
child, turns the log into the counter ``workbench_gateway_requests_total{endpoint, status}`` on its
own ``/metrics`` (`status_target`), which Prometheus scrapes. Why this design: the answers the
gateway gives itself (401, 403, 429, and 502 when no replica answers) never reach a replica, so the
replicas' counts cannot hold them; nginx's stub_status has no status breakdown; the modules that
have one are not in Debian's nginx; a log-to-metrics tool is the standard way, and mtail is packaged.
The log is buffered (flushed every second), so the counts trail the answers by at most a second.

Keys file: one key a line, ``NAME SCOPE KEY`` (scope ``read``: /recommend; ``write``: also
/events), ``#`` comments. It lives outside the repository (default ``data/gateway/keys.txt``,
git-ignored, mode 0600) or where ``--keys`` / ``WORKBENCH_API_KEYS`` say; `ApiKeys.load_or_create`
writes one ``admin`` (write) and one ``reader`` (read) key when the file does not exist.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_KEYS = "WORKBENCH_API_KEYS"
DEFAULT_KEYS = Path("data") / "gateway" / "keys.txt"
SCOPES = ("read", "write")
INSTALL_HINT = "install it with `apt-get install nginx-light` (make test does this when it runs as root)"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_RATE = re.compile(r"[1-9][0-9]*r/[sm]")


def find_nginx() -> str:
    path = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if path is None:
        raise RuntimeError(f"nginx was not found on PATH: {INSTALL_HINT}")
    return path


@dataclass(frozen=True)
class ApiKey:
    name: str
    scope: str
    key: str


class ApiKeys:
    """The gateway's API keys (see the module docstring for the file format)."""

    def __init__(self, keys: list[ApiKey], path: Path | None = None) -> None:
        names = [k.name for k in keys]
        if not keys or len(set(names)) != len(names) or len({k.key for k in keys}) != len(keys):
            raise ValueError(f"API keys{f' in {path}' if path else ''}: expected at least one key, names and keys distinct")
        self.keys, self.path = list(keys), path

    def __iter__(self):
        return iter(self.keys)

    def by_name(self, name: str) -> ApiKey:
        for k in self.keys:
            if k.name == name:
                return k
        raise KeyError(f"no API key named {name!r} (have {[k.name for k in self.keys]})")

    @classmethod
    def parse(cls, text: str, path: Path | None = None) -> ApiKeys:
        keys = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            where = f"{path or 'keys'}:{n}"
            if len(parts) != 3:
                raise ValueError(f"{where}: expected 'NAME SCOPE KEY', got {len(parts)} fields")
            name, scope, key = parts
            if not _NAME.fullmatch(name):
                raise ValueError(f"{where}: name {name!r}: expected letters, digits, '_', '.', '-' (1-64)")
            if scope not in SCOPES:
                raise ValueError(f"{where}: scope {scope!r}: expected one of {SCOPES}")
            if not _TOKEN.fullmatch(key):
                raise ValueError(f"{where}: key of {name!r}: expected 16-128 characters from [A-Za-z0-9_-]")
            keys.append(ApiKey(name, scope, key))
        return cls(keys, path)

    @classmethod
    def generate(cls, names_scopes: tuple[tuple[str, str], ...] = (("admin", "write"), ("reader", "read"))) -> ApiKeys:
        return cls([ApiKey(n, s, secrets.token_urlsafe(24)) for n, s in names_scopes])

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("# NAME SCOPE KEY (scope read: /recommend; write: also /events). Keep this file secret.\n")
            f.writelines(f"{k.name} {k.scope} {k.key}\n" for k in self.keys)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path) -> ApiKeys:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"API keys file {path}: no such file")
        return cls.parse(path.read_text(), path)

    @classmethod
    def load_or_create(cls, path: str | Path | None = None) -> tuple[ApiKeys, bool]:
        """``(keys, created)``: the keys at ``path`` (default: ``WORKBENCH_API_KEYS``, else
        data/gateway/keys.txt), generated and written there first when the file does not exist."""
        path = Path(path or os.environ.get(ENV_KEYS) or DEFAULT_KEYS)
        if path.exists():
            return cls.load(path), False
        keys = cls.generate()
        keys.write(path)
        return keys, True


def _json(error: str, field: str, expected: str) -> str:
    return "'" + f'{{"error": "{error}", "field": "{field}", "expected": "{expected}"}}' + "'"


MTAIL_PROGRAM = """# the gateway's access log, one "ENDPOINT STATUS" line per request (workbench.serving.gateway)
counter workbench_gateway_requests_total by endpoint, status
/^(?P<endpoint>[a-z\\/]+) (?P<status>\\d{3})$/ {
  workbench_gateway_requests_total[$endpoint][$status]++
}
"""
INSTALL_MTAIL = "install it with `apt-get install mtail` (make test does this when it runs as root)"


def nginx_config(dir: Path, port: int, upstreams: list[str], keys: ApiKeys | None, rate: str, burst: int,
                 access_log: bool = False) -> str:  # fmt: skip
    """The nginx.conf of a gateway on 127.0.0.1:``port`` (keys None: no authentication, no rate limit;
    access_log: one ``ENDPOINT STATUS`` line per request in ``dir/access.log``)."""
    # max_fails=0: a replica is never marked down, a refused connection is retried on the next one at once
    # (marked down for a fail_timeout, it would leave no live upstream while a rolling switch restarts the other)
    servers = "\n".join(f"        server {u} max_fails=0;" for u in upstreams)
    auth = limit = zone = ""
    if keys is not None:
        scope_map = "\n".join(f'        "{k.key}" "{k.scope}";' for k in keys)
        name_map = "\n".join(f'        "{k.key}" "{k.name}";' for k in keys)
        zone = f"""
    map $http_x_api_key $wb_scope {{
        default "";
{scope_map}
    }}
    map $http_x_api_key $wb_key_name {{
        default "";
{name_map}
    }}
    limit_req_zone $wb_key_name zone=per_key:1m rate={rate};
    limit_req_status 429;"""
        auth = f"""if ($wb_scope = "") {{ return 401 {_json("unauthorized", "X-API-Key", "a valid API key")}; }}"""
        limit = f"limit_req zone=per_key burst={burst} nodelay;"
    write_only = (f"""if ($wb_scope != "write") {{ return 403 {_json("forbidden", "X-API-Key", "a key with the write scope")}; }}"""
                  if keys is not None else "")  # fmt: skip
    proxy = "proxy_pass http://replicas;"
    log = "access_log off;"
    if access_log:
        log = f"""map $uri $wb_endpoint {{
        default other;
        /recommend /recommend;
        /events /events;
        /healthz /healthz;
        ~^/gateway/ gateway;
    }}
    log_format wb_status '$wb_endpoint $status';
    access_log {dir}/access.log wb_status buffer=32k flush=1s;"""
    return f"""# written by workbench.serving.gateway; removed with its directory when the gateway stops
master_process off;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    {log}
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    default_type application/json;
    client_max_body_size 2m;
{zone}
    upstream replicas {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_connect_timeout 1s;
        proxy_read_timeout 30s;
        proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        proxy_next_upstream_tries 3;
        error_page 429 = @rate_limited;
        location = /recommend {{ {auth} {limit} {proxy} }}
        location = /events {{ {auth} {write_only} {limit} {proxy} }}
        location = /healthz {{ {proxy} }}
        location = /gateway/status {{ stub_status; }}
        location = /gateway/metrics {{
            default_type text/plain;
            return 200 "# TYPE nginx_connections_active gauge\nnginx_connections_active $connections_active\n# TYPE nginx_connections_reading gauge\nnginx_connections_reading $connections_reading\n# TYPE nginx_connections_writing gauge\nnginx_connections_writing $connections_writing\n# TYPE nginx_connections_waiting gauge\nnginx_connections_waiting $connections_waiting\n";
        }}
        location / {{ return 404 {_json("not found", "path", "/recommend, /events or /healthz")}; }}
        location @rate_limited {{ return 429 {_json("rate limited", "X-API-Key", f"at most {rate} (burst {burst}) per key")}; }}
    }}
}}
"""


class Gateway:
    """nginx on 127.0.0.1:``port`` (None: a free one) in front of ``upstreams`` (``host:port`` strings).

    keys: API keys (None: no authentication and no rate limit); rate / burst: the per-key limit
    (nginx syntax, ``"100r/s"`` or ``"30r/m"``); status_counts: also run mtail over the access log
    (request counts by endpoint and status on `status_target`'s /metrics).
    """

    def __init__(self, upstreams: list[str], keys: ApiKeys | None = None, port: int | None = None,
                 rate: str = "200r/s", burst: int = 400, die_with_parent: bool = False,
                 status_counts: bool = True) -> None:  # fmt: skip
        if not upstreams:
            raise ValueError("Gateway: expected at least one upstream (host:port)")
        for u in upstreams:
            host, _, p = u.rpartition(":")
            if host not in ("127.0.0.1", "localhost") or not p.isdigit():
                raise ValueError(f"upstream {u!r}: expected 127.0.0.1:PORT (loopback only)")
        if not _RATE.fullmatch(rate):
            raise ValueError(f"rate={rate!r}: expected a number of requests per second or minute, e.g. '100r/s' or '30r/m'")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 0:
            raise ValueError(f"burst={burst!r}: expected an integer >= 0")
        self.upstreams, self.keys, self.port, self.rate, self.burst = list(upstreams), keys, port, rate, burst
        self.die_with_parent, self.status_counts = die_with_parent, status_counts
        self.dir: Path | None = None
        self.process: subprocess.Popen | None = None
        self.mtail: subprocess.Popen | None = None
        self.mtail_port: int | None = None

    @property
    def status_target(self) -> str | None:
        """``127.0.0.1:PORT`` of mtail's /metrics (the request counts by status); None without them."""
        return f"127.0.0.1:{self.mtail_port}" if self.mtail is not None else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10.0) -> Gateway:
        import socket

        from workbench.serving.children import die_with_parent, wait_ready
        from workbench.serving.redis_server import free_port

        if self.running:
            return self
        exe = find_nginx()
        mtail = None
        if self.status_counts:
            mtail = shutil.which("mtail") or ("/usr/bin/mtail" if Path("/usr/bin/mtail").exists() else None)
            if mtail is None:
                raise RuntimeError(f"mtail was not found on PATH (the gateway's request counts by status): {INSTALL_MTAIL}")
        self.port = self.port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="workbench-gateway-"))
        (self.dir / "tmp").mkdir()
        conf = self.dir / "nginx.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the keys
        with os.fdopen(fd, "w") as f:
            f.write(nginx_config(self.dir, self.port, self.upstreams, self.keys, self.rate, self.burst, self.status_counts))
        (self.dir / "access.log").touch()
        args = [exe, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        preexec_fn=die_with_parent if self.die_with_parent else None)  # fmt: skip
        def accepts() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        try:
            wait_ready(self.process, accepts, timeout, f"nginx on port {self.port}", log=self.dir / "error.log")
            if mtail is not None:
                self._start_mtail(mtail, timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def _start_mtail(self, exe: str, timeout: float) -> None:
        import socket

        from workbench.serving.children import die_with_parent, wait_ready
        from workbench.serving.redis_server import free_port

        (self.dir / "progs").mkdir()
        (self.dir / "progs" / "gateway.mtail").write_text(MTAIL_PROGRAM)
        self.mtail_port = free_port()
        args = [exe, "-progs", str(self.dir / "progs"), "-logs", str(self.dir / "access.log"), "-address", "127.0.0.1",
                "-port", str(self.mtail_port), "-emit_prog_label=false", "-logtostderr", "-stderrthreshold", "ERROR"]  # fmt: skip
        log = open(self.dir / "mtail.log", "wb")
        self.mtail = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                      preexec_fn=die_with_parent if self.die_with_parent else None)  # fmt: skip
        log.close()

        def accepts() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.mtail_port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_ready(self.mtail, accepts, timeout, f"mtail on port {self.mtail_port}", log=self.dir / "mtail.log")

    def stop(self) -> None:
        """SIGTERM to nginx's PID (SIGKILL after 5 s), then remove its directory (config with the keys)."""
        from workbench.serving.children import stop_pid

        proc, self.process = self.process, None
        if proc is not None:
            stop_pid(proc)
        tail, self.mtail = self.mtail, None
        if tail is not None:
            stop_pid(tail)
            if proc.stderr:
                proc.stderr.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.process.pid}" if self.running else "stopped"
        return f"Gateway(127.0.0.1:{self.port} → {self.upstreams}, {state}, auth={'on' if self.keys else 'off'})"
