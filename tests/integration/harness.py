# SPDX-License-Identifier: MIT
"""Integration-test harness for FarmLokal.

A `Stack` starts real servers on loopback inside a fresh temporary directory:

    private MariaDB  (a copy of a cached `mariadb-install-db` template datadir; with
                      replica=True a second one that follows it by GTID)
    private Redis    (TCP on a free port, plus a unix socket)
    nginx            (free port, includes deploy/nginx/farmlokal-location.conf)
    the app          (`farmlokal --listen unix:TMP/fl.sock`, or spawn-fcgi, on demand)

and stops every process it started, by pid, when it is closed: also when a test
fails, on Ctrl-C (atexit) and on SIGTERM/SIGHUP to the test runner (signal handler).
Direct children additionally get PR_SET_PDEATHSIG=SIGTERM, and a last sweep kills
any process that still carries this stack's marker variable in its environment
(for example spawn-fcgi's forked workers, which are not our children).

Every response of request(), get() and fcgi() on the API's paths is checked against the
API description, app/openapi.json (openapi_check.py, with python3-jsonschema); the rest is
the Python standard library. Only 127.0.0.1 and unix sockets are contacted. Environment:

    FL_BUILD_DIR   build directory holding app/farmlokal and app/farmlokal-ctl
                   (required only by the app helpers)
    FL_TEST_CACHE  where the MariaDB template datadir is cached
                   (default: <tempdir>/farmlokal-test-cache)
    FL_TEST_KEEP   set to 1 to keep the temp dir of every stack after close

Typical use, see test_foundation.py:

    class MyTest(harness.StackTestCase):
        app_workers = 2
        def test_health(self):
            r = self.stack.get("/api/health")
            self.assertEqual(r.status, 200, r)
"""

import atexit
import ctypes
import fcntl
import hashlib
import http.client
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from openapi_check import CONTRACT

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
NGINX_LOCATION_CONF = os.path.join(REPO_ROOT, "deploy", "nginx", "farmlokal-location.conf")
NGINX_EDGE_CONF = os.path.join(REPO_ROOT, "deploy", "nginx", "farmlokal-edge.conf")

# Every process a stack starts carries MARKER=<stack temp dir> in its environment,
# so leftovers can be found (and killed) even when they are not our children.
MARKER = "FARMLOKAL_TEST_STACK"

# Options for mariadb-install-db and mariadbd. A 16 MiB redo log (instead of 96 MiB)
# keeps the per-stack copy of the template small; it must be the same for both.
MARIADB_INSTALL_ARGS = [
    "--no-defaults",
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
    "--innodb-log-file-size=16M",
]

# Grace periods (seconds) between SIGTERM and SIGKILL when stopping a process.
GRACE = {"app": 8.0, "nginx": 5.0, "redis": 5.0, "mariadb": 15.0, "spawn-fcgi": 8.0}


# --------------------------------------------------------------------------------------
# Small utilities
# --------------------------------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(fn, timeout=5.0, interval=0.05):
    """Call fn() until it returns something truthy or `timeout` seconds pass.

    Returns the first truthy value, or the last value returned when time ran out.
    Exceptions from fn propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def tail(path, lines=40):
    """The last `lines` lines of a text file ('' if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def proc_state(pid):
    """The one-letter state of a process from /proc, or None if it does not exist."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    return stat[stat.rindex(")") + 2:].split()[0]


def pid_alive(pid):
    """True if the process exists and is not a zombie."""
    return proc_state(pid) not in (None, "Z", "X")


def child_pids(ppid):
    """Live (non-zombie) children of `ppid`, sorted, by scanning /proc."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == ppid and fields[0] not in ("Z", "X"):
            kids.append(int(name))
    return sorted(kids)


def pids_with_marker(value):
    """Pids whose initial environment contains MARKER=value (ourselves excluded)."""
    needle = ("%s=%s" % (MARKER, value)).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env and pid_alive(int(name)):
            found.append(int(name))
    return sorted(found)


def wait_pid_gone(pid, timeout):
    """Wait until a process that is not our child has exited (or is a zombie)."""
    return poll(lambda: not pid_alive(pid), timeout=timeout, interval=0.02)


# PR_SET_PDEATHSIG: a child started by the harness gets a signal when the thread that
# started it dies, so a test runner killed with SIGKILL does not leave servers behind:
# SIGTERM for the app and nginx (their masters then stop their own workers), SIGKILL for
# MariaDB and Redis (throwaway data; SIGKILL also ends a server a test left SIGSTOPped).
# The function is looked up in the parent; the child only calls it.
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not glibc / not Linux: go without
    _prctl = None


def _child_setup(parent_pid, deathsig):
    """preexec_fn: own process group is done by start_new_session; add PDEATHSIG."""
    if _prctl is not None:
        _prctl(1, deathsig, 0, 0, 0)  # 1 == PR_SET_PDEATHSIG
        if os.getppid() != parent_pid:      # parent already gone before prctl
            os._exit(1)


# --------------------------------------------------------------------------------------
# HTTP and FastCGI clients
# --------------------------------------------------------------------------------------

class Response:
    """An HTTP (or CGI/FastCGI) response: .status, .headers, .body, .json(), .elapsed.

    `.headers` is an email.message.Message (http.client.HTTPMessage): lookups are
    case-insensitive, `.get(name)`, `.get_all(name)`.
    """

    def __init__(self, status, headers, body, elapsed=0.0):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        # Used in assertion messages: status, headers and the start of the body.
        hdrs = "; ".join("%s: %s" % kv for kv in self.headers.items())
        body = self.body[:600].decode("utf-8", "replace")
        return "<Response %s [%s] %r>" % (self.status, hdrs, body)


def http_request(port, method, path, body=None, headers=None, timeout=10.0):
    """One request on a fresh connection to 127.0.0.1:port. Never raises on 4xx/5xx
    (connection errors and timeouts do raise)."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.headers, data, time.monotonic() - start)
    finally:
        conn.close()


def parse_cgi_response(raw, elapsed=0.0):
    """Parse a CGI-style response (headers, blank line, body) into a Response.

    The status comes from a `Status:` header (default 200, as in CGI)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, body = raw.partition(sep)
        if found:
            break
    else:
        head, body = raw, b""
    msg = http.client.HTTPMessage()
    for line in head.decode("latin-1").splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            msg[name.strip()] = value.strip()
    status = 200
    if msg.get("Status"):
        status = int(msg["Status"].split()[0])
    return Response(status, msg, body, elapsed)


def _fcgi_record(rtype, content, request_id=1):
    return struct.pack(">BBHHBx", 1, rtype, request_id, len(content), 0) + content


def _fcgi_pairs(params):
    out = b""
    for name, value in params.items():
        n, v = name.encode(), str(value).encode()
        for length in (len(n), len(v)):
            out += struct.pack(">B", length) if length < 128 else struct.pack(">I", length | 0x80000000)
        out += n + v
    return out


def fcgi_request(address, params, stdin=b"", timeout=10.0):
    """Send one FastCGI responder request; return (stdout, stderr, app_status).

    `address` is a unix socket path or a (host, port) tuple. Used to check that a
    worker pool answers before nginx is involved, and by tests that bypass nginx."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(address)
        msg = _fcgi_record(1, struct.pack(">HB5x", 1, 0))      # BEGIN_REQUEST, responder
        pairs = _fcgi_pairs(params)
        for i in range(0, len(pairs), 65535):
            msg += _fcgi_record(4, pairs[i:i + 65535])         # PARAMS
        msg += _fcgi_record(4, b"")
        for i in range(0, len(stdin), 65535):
            msg += _fcgi_record(5, stdin[i:i + 65535])         # STDIN
        msg += _fcgi_record(5, b"")
        s.sendall(msg)
        out, err, buf = b"", b"", b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("FastCGI connection closed before END_REQUEST")
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, plen = struct.unpack(">BBHHB", buf[:7])
                if len(buf) < 8 + clen + plen:
                    break
                content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
                if rtype == 6:
                    out += content
                elif rtype == 7:
                    err += content
                elif rtype == 3:
                    return out, err, struct.unpack(">I", content[:4])[0]


# --------------------------------------------------------------------------------------
# Managed processes
# --------------------------------------------------------------------------------------

class Proc:
    """A process started by the harness: Popen plus a name and its log file."""

    def __init__(self, name, argv, log, env=None, cwd=None, show=None, deathsig=signal.SIGTERM):
        self.name, self.argv, self.log = name, argv, log
        self.show = show or log  # the log worth showing when it fails (mariadbd: --log-error)
        with open(log, "ab") as f:
            f.write(("\n=== harness %s: %s\n" % (time.strftime("%H:%M:%S"), shlex.join(argv))).encode())
            f.flush()
            # Only the main thread sets PDEATHSIG: it fires when the *thread* that
            # forked exits, and a helper thread may exit long before the test does.
            main = threading.current_thread() is threading.main_thread()
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                env=env, cwd=cwd, start_new_session=True,
                preexec_fn=(lambda p=os.getpid(): _child_setup(p, deathsig)) if main else None)
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def kill(self):
        """SIGKILL the process (and its process group) and wait for it."""
        self._killpg(signal.SIGKILL)
        self.popen.wait()

    def stop(self, grace=5.0, sig=signal.SIGTERM):
        """Ask the process to exit, wait `grace` seconds, then SIGKILL its group.

        Returns the exit status."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
                os.kill(self.pid, signal.SIGCONT)  # in case a test left it stopped
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                sys.stderr.write("harness: %s (pid %d) ignored signal %d for %.0f s, killing\n"
                                 % (self.name, self.pid, sig, grace))
        # Kill what is left of its process group (e.g. workers of a dead master).
        self._killpg(signal.SIGKILL)
        return self.popen.wait()

    def _killpg(self, sig):
        try:
            os.killpg(self.pid, sig)  # start_new_session: pgid == pid
        except (ProcessLookupError, PermissionError):
            pass


# --------------------------------------------------------------------------------------
# The MariaDB template datadir, built once and shared under a file lock
# --------------------------------------------------------------------------------------

def _is_root():
    return os.geteuid() == 0


def _whoami():
    return pwd.getpwuid(os.geteuid()).pw_name


def mariadb_template():
    """Path of a pristine datadir made by mariadb-install-db, built on first use.

    Cached in $FL_TEST_CACHE (default <tempdir>/farmlokal-test-cache), keyed by the
    server version and install options; an flock serialises parallel test runs, and
    the finished datadir appears by an atomic rename, so readers never see half of one.
    """
    cache = os.environ.get("FL_TEST_CACHE") or os.path.join(tempfile.gettempdir(), "farmlokal-test-cache")
    os.makedirs(cache, exist_ok=True)
    version = subprocess.run(["mariadbd", "--version"], capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256(repr((version, MARIADB_INSTALL_ARGS, _whoami())).encode()).hexdigest()[:12]
    template = os.path.join(cache, "mariadb-datadir-" + key)
    if os.path.isdir(template):
        return template
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(template):  # another run built it while we waited
            return template
        for name in os.listdir(cache):  # leftovers of an interrupted build (we hold the lock)
            if name.startswith(".building-"):
                shutil.rmtree(os.path.join(cache, name), ignore_errors=True)
        work = tempfile.mkdtemp(prefix=".building-", dir=cache)
        try:
            argv = ["mariadb-install-db"] + MARIADB_INSTALL_ARGS + [
                "--datadir=" + os.path.join(work, "data"), "--user=" + _whoami()]
            res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError("mariadb-install-db failed (%d):\n%s%s"
                                   % (res.returncode, res.stdout[-3000:], res.stderr[-3000:]))
            os.rename(os.path.join(work, "data"), template)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return template


# --------------------------------------------------------------------------------------
# Cleanup on exit and on SIGTERM/SIGHUP
# --------------------------------------------------------------------------------------

_live_stacks = set()
_handlers_installed = False


def _close_all_stacks():
    for stack in list(_live_stacks):
        try:
            stack.close()
        except Exception as e:  # keep closing the others
            sys.stderr.write("harness: closing %s failed: %r\n" % (stack.tmp, e))


def _on_fatal_signal(signum, frame):
    """Stop every stack, then die of the same signal (as if we had not caught it)."""
    _close_all_stacks()
    previous = _previous_handlers.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_previous_handlers = {}


def _install_cleanup_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_close_all_stacks)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(sig)
            if previous is signal.SIG_IGN:  # e.g. under nohup: keep ignoring it
                continue
            _previous_handlers[sig] = previous
            signal.signal(sig, _on_fatal_signal)


# --------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------

class Stack:
    """MariaDB + Redis + nginx (+ the app on demand) in a private temp dir.

        with Stack() as s:          # or s = Stack(); s.start(); ...; s.close()
            s.start_app(workers=2)
            s.get("/api/health")

    Attributes once started: tmp, mysql_url, mysql_tcp_url, mysql_port, mysql_socket,
    redis_url, redis_unix_url, redis_port, nginx_port, base_url, app_socket,
    app_pid, timings (seconds per start-up phase).
    """

    def __init__(self, mysql=True, redis=True, nginx=True, keep=None, mysql_args=(), replica=False,
                 two_pools=False, edge_ttl_s=0, edge_rate=100000, external_pool=False,
                 buffered_log=False):
        self.want = {"mysql": mysql, "redis": redis, "nginx": nginx, "replica": mysql and replica}
        self.mysql_args = list(mysql_args)  # extra mariadbd options (benchmarks: bigger pool)
        self.keep = keep if keep is not None else os.environ.get("FL_TEST_KEEP") == "1"
        base = tempfile.gettempdir()
        # unix socket paths are limited to 107 bytes: fall back to /tmp if TMPDIR is deep.
        if len(base) > 60:
            base = "/tmp"
        self.tmp = tempfile.mkdtemp(prefix="fl-", dir=base)
        self.timings = {}
        self.procs = {}  # name -> Proc, for everything started and not yet stopped
        self.closed = False
        self.db_password = secrets.token_hex(12)
        self.mysql_socket = self.path("mysql.sock")
        self.replica_socket = self.path("replica.sock")
        self.redis_socket = self.path("redis.sock")
        self.app_socket = self.path("fl.sock")
        self.mysql_port = self.redis_port = self.nginx_port = None
        self.fcgi_pids = []  # workers started by start_spawn_fcgi in fork mode
        # two_pools: nginx's upstream lists a second socket, pool B (start_pool_b), as
        # deploy/nginx/farmlokal-site.conf lists pools A and B.
        self.two_pools = two_pools
        self.pool_b_socket = self.path("fl-b.sock")
        # The edge tier of the nginx snippet (farmlokal-edge.conf): FL_EDGE_TTL_S, 0 = off
        # (so tests of the app see every request), and limit_req's rate per client address.
        self.edge_ttl_s, self.edge_rate = edge_ttl_s, edge_rate
        # external_pool: /products/external/ goes to a pool of its own (start_external_pool),
        # as in deploy/nginx/farmlokal-site.conf; else to the app's socket.
        self.external_socket = self.path("fl-ext.sock") if external_pool else self.app_socket
        # buffered_log: nginx's access log buffered as deploy/local/up has it (benchmarks);
        # tests read it as they go, so it is written line by line by default.
        self.buffered_log = buffered_log
        _install_cleanup_handlers()
        _live_stacks.add(self)

    # -- general ------------------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def base_env(self):
        """Our environment without FarmLokal settings, plus this stack's marker."""
        legacy = {"DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME", "REDIS_URL",
                  "REDIS_HOST", "REDIS_PORT", "EXTERNAL_API_URL"}
        env = {k: v for k, v in os.environ.items() if not k.startswith("FL_") and k not in legacy}
        env[MARKER] = self.tmp
        return env

    def start(self):
        """Start MariaDB, Redis and nginx (as asked in the constructor) in parallel."""
        t0 = time.monotonic()
        if self.want["mysql"]:
            template = mariadb_template()
            self.timings["mariadb_template"] = time.monotonic() - t0
            t = time.monotonic()
            shutil.copytree(template, self.path("mysql-data"), symlinks=True)
            self.timings["mariadb_copy"] = time.monotonic() - t
            self.mysql_port = free_port()
            self._spawn_mysql()
            if self.want["replica"]:
                shutil.copytree(template, self.path("replica-data"), symlinks=True)
                self._spawn_replica()
        if self.want["redis"]:
            self.redis_port = free_port()
            self._spawn_redis()
        if self.want["nginx"]:
            self.nginx_port = free_port()
            self._write_nginx_conf()
            self._spawn_nginx()
        # All three boot concurrently; now wait for each.
        if self.want["mysql"]:
            self._retry_on_port_clash("mysql", self._wait_mysql)
            self._create_database()
            if self.want["replica"]:
                self._wait_for("replica", lambda: self._mysql_ping(self.replica_socket), 60.0)
                self._follow_primary()
        if self.want["redis"]:
            self._retry_on_port_clash("redis", self._wait_redis)
        if self.want["nginx"]:
            self._retry_on_port_clash("nginx", self._wait_nginx)
        self.timings["start"] = time.monotonic() - t0
        return self

    def close(self):
        """Stop everything in reverse order (app, nginx, redis, mariadb), by pid."""
        if self.closed:
            return
        self.closed = True
        try:
            self.stop_app()
            self.stop_spawn_fcgi()
            for name in ("nginx", "redis", "replica", "mysql"):
                proc = self.procs.pop(name, None)
                if proc:
                    proc.stop(GRACE["mariadb" if name in ("mysql", "replica") else name])
            for name, proc in list(self.procs.items()):  # anything else
                proc.stop(5.0)
                self.procs.pop(name, None)
        finally:
            # Safety net: whatever still carries our marker is a leftover.
            for pid in pids_with_marker(self.tmp):
                sys.stderr.write("harness: killing leftover pid %d (%s)\n" % (pid, _cmdline(pid)))
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _live_stacks.discard(self)
            if self.keep:
                sys.stderr.write("harness: kept %s\n" % self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def _retry_on_port_clash(self, name, wait):
        """Wait for a server; if it died because its port was taken meanwhile (free_port
        is racy against other test runs), start it again on a new port, twice at most."""
        for attempt in range(3):
            try:
                return wait()
            except RuntimeError as e:
                proc = self.procs.get(name)
                log = tail(proc.show, 20) if proc else ""
                if attempt == 2 or "in use" not in log.lower():
                    raise
                sys.stderr.write("harness: %s port clash, retrying: %s\n" % (name, e))
                if name == "mysql":
                    self.mysql_port = free_port()
                    self._spawn_mysql()
                elif name == "redis":
                    self.redis_port = free_port()
                    self._spawn_redis()
                else:
                    self.nginx_port = free_port()
                    self._write_nginx_conf()
                    self._spawn_nginx()

    def _wait_for(self, name, ready, timeout):
        """Poll ready() until true; fail early with the log if the process died."""
        proc = self.procs[name]
        deadline = time.monotonic() + timeout
        while True:
            if ready():
                return
            if not proc.alive():
                raise RuntimeError("%s exited with %s during start-up; log %s:\n%s"
                                   % (name, proc.popen.returncode, proc.show, tail(proc.show)))
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not become ready in %.0f s; log %s:\n%s"
                                   % (name, timeout, proc.show, tail(proc.show)))
            time.sleep(0.03)

    def logs(self):
        """{name: path} of every log file this stack writes."""
        names = ["app.log", "ctl.log", "spawn-fcgi.log", "nginx-error.log", "mariadb.err", "replica.err",
                 "redis.log", "pool-b.log", "external.log"]
        return {n: self.path(n) for n in names}

    def dump_logs(self, lines=60, file=None):
        """Print the last lines of every non-empty log (for failing tests): `lines` of
        the app's log, a third of that of the servers' logs."""
        file = file or sys.stderr
        for name, path in self.logs().items():
            n = lines if name in ("app.log", "ctl.log") else max(5, lines // 3)
            text = tail(path, n)
            if text.strip():
                file.write("\n----- %s (last %d lines) -----\n%s\n" % (path, n, text))
        file.flush()

    # -- MariaDB ------------------------------------------------------------------------

    @property
    def mysql_url(self):
        return "mysql://farmlokal:%s@localhost/farmlokal?socket=%s" % (self.db_password, self.mysql_socket)

    @property
    def mysql_tcp_url(self):
        return "mysql://farmlokal:%s@127.0.0.1:%d/farmlokal" % (self.db_password, self.mysql_port)

    def _spawn_mariadbd(self, name, datadir, sock, log_prefix, args):
        argv = ["mariadbd", "--no-defaults",
                "--datadir=" + self.path(datadir),
                "--socket=" + sock,
                "--pid-file=" + self.path(log_prefix + ".pid"),
                "--log-error=" + self.path(log_prefix + ".err"),
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=128M",
                "--innodb-flush-log-at-trx-commit=2",
                "--innodb-log-file-size=16M"] + args
        if _is_root():
            argv.append("--user=root")
        self.procs[name] = Proc(name, argv, self.path(log_prefix + ".out"), env=self.base_env(), cwd=self.tmp,
                                show=self.path(log_prefix + ".err"), deathsig=signal.SIGKILL)

    def _spawn_mysql(self):
        # With a replica the primary writes a binary log (row events, GTIDs) for it to follow.
        log_bin = (["--log-bin=" + self.path("binlog"), "--server-id=1", "--binlog-format=ROW"]
                   if self.want["replica"] else ["--skip-log-bin"])
        self._spawn_mariadbd("mysql", "mysql-data", self.mysql_socket, "mariadb",
                             ["--port=%d" % self.mysql_port, "--bind-address=127.0.0.1"]
                             + log_bin + self.mysql_args)

    def _mysql_ping(self, sock=None):
        res = subprocess.run(["mariadb-admin", "--no-defaults", "-uroot", "--socket=" + (sock or self.mysql_socket),
                              "--connect-timeout=2", "ping"], stdin=subprocess.DEVNULL, capture_output=True)
        return res.returncode == 0

    def _wait_mysql(self, timeout=60.0):
        t = time.monotonic()
        self._wait_for("mysql", self._mysql_ping, timeout)
        self.timings["mariadb_boot"] = time.monotonic() - t

    def _create_database(self):
        pw = self.db_password
        self.sql("CREATE DATABASE farmlokal CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
                 "CREATE USER 'farmlokal'@'localhost' IDENTIFIED BY '%s'; "
                 "CREATE USER 'farmlokal'@'127.0.0.1' IDENTIFIED BY '%s'; "
                 "GRANT ALL PRIVILEGES ON farmlokal.* TO 'farmlokal'@'localhost'; "
                 "GRANT ALL PRIVILEGES ON farmlokal.* TO 'farmlokal'@'127.0.0.1';" % (pw, pw))

    def sql(self, query, database=None, sock=None):
        """Run SQL as root over the socket (mariadb -N -B); return a list of rows,
        each a list of strings (NULL is the string 'NULL', as the client prints it)."""
        argv = ["mariadb", "--no-defaults", "-uroot", "--socket=" + (sock or self.mysql_socket), "-N", "-B",
                "-e", query]
        if database:
            argv.append(database)
        res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
        if res.returncode != 0:
            raise RuntimeError("SQL failed: %s\n%s" % (query, res.stderr.decode("utf-8", "replace")))
        rows = []
        for line in res.stdout.decode("utf-8").split("\n"):
            if line:
                rows.append([_unescape_batch(field) for field in line.split("\t")])
        return rows

    def mysql_kill(self):
        """SIGKILL mariadbd and wait for it to be gone."""
        self.procs["mysql"].kill()

    def mysql_start(self, timeout=60.0):
        """(Re)start mariadbd on the same datadir, port and socket; wait until it answers."""
        proc = self.procs.get("mysql")
        if proc and proc.alive():
            raise RuntimeError("mariadbd is still running (pid %d)" % proc.pid)
        self._spawn_mysql()
        self._wait_mysql(timeout)

    def mysql_stop(self):
        """Shut mariadbd down cleanly (SIGTERM) and wait."""
        self.procs["mysql"].stop(GRACE["mariadb"])

    def mysql_stop_signal(self, sig):
        """Send a signal (typically SIGSTOP / SIGCONT) to mariadbd."""
        os.kill(self.procs["mysql"].pid, sig)

    @property
    def mysql_pid(self):
        return self.procs["mysql"].pid

    # -- the replica (Stack(replica=True)) ----------------------------------------------
    # A second mariadbd that follows the primary by GTID. It listens on its unix socket only
    # (no port to clash), is read-only for the app's user, and has that user and the schema
    # because it replays the primary's binary log from the start.

    @property
    def replica_url(self):
        return "mysql://farmlokal:%s@localhost/farmlokal?socket=%s" % (self.db_password, self.replica_socket)

    def _spawn_replica(self):
        self._spawn_mariadbd("replica", "replica-data", self.replica_socket, "replica",
                             ["--skip-networking", "--server-id=2", "--read-only", "--skip-log-bin"])

    def _follow_primary(self):
        pw = secrets.token_hex(12)
        self.sql("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '%s'; "
                 "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';" % pw)
        self.replica_sql("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', "
                         "MASTER_PASSWORD='%s', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; "
                         "START SLAVE;" % (self.mysql_port, pw))
        self.replica_sync()

    def replica_sql(self, query, database=None):
        """Run SQL as root on the replica; rows as sql() returns them."""
        return self.sql(query, database, sock=self.replica_socket)

    def replica_sync(self, timeout=30):
        """Wait until the replica has applied everything the primary has logged."""
        pos = self.sql("SELECT @@global.gtid_binlog_pos")[0][0]
        done = self.replica_sql("SELECT MASTER_GTID_WAIT('%s', %d)" % (pos, timeout))[0][0]
        if done != "0":
            raise RuntimeError("replica did not reach %s in %d s: %s"
                               % (pos, timeout, self.replica_sql("SHOW SLAVE STATUS")))

    def replica_pause(self):
        """Stop applying the primary's changes (they queue up: the replica lags)."""
        self.replica_sql("STOP SLAVE SQL_THREAD")

    def replica_resume(self):
        self.replica_sql("START SLAVE SQL_THREAD")

    def replica_kill(self):
        self.procs["replica"].kill()

    def replica_start(self, timeout=60.0):
        self._spawn_replica()
        self._wait_for("replica", lambda: self._mysql_ping(self.replica_socket), timeout)

    # -- Redis --------------------------------------------------------------------------

    @property
    def redis_url(self):
        return "redis://127.0.0.1:%d/0" % self.redis_port

    @property
    def redis_unix_url(self):
        return "unix://" + self.redis_socket

    def _spawn_redis(self):
        argv = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", self.tmp,
                "--unixsocket", self.redis_socket, "--unixsocketperm", "700"]
        self.procs["redis"] = Proc("redis", argv, self.path("redis.log"), env=self.base_env(), cwd=self.tmp,
                                   deathsig=signal.SIGKILL)

    def _redis_ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1.0) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _wait_redis(self, timeout=20.0):
        self._wait_for("redis", self._redis_ping, timeout)

    def redis(self, *args):
        """Run a redis-cli command; return its stdout without the trailing newline."""
        res = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port)] + list(args),
                             stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError("redis-cli %s failed: %s" % (args, res.stderr))
        return res.stdout.rstrip("\n")

    def redis_kill(self):
        self.procs["redis"].kill()

    def redis_start(self, timeout=20.0):
        proc = self.procs.get("redis")
        if proc and proc.alive():
            raise RuntimeError("redis-server is still running (pid %d)" % proc.pid)
        self._spawn_redis()
        self._wait_redis(timeout)

    def redis_stop_signal(self, sig):
        os.kill(self.procs["redis"].pid, sig)

    # -- nginx --------------------------------------------------------------------------

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.nginx_port

    def _write_nginx_conf(self):
        t = self.path
        for d in ("www", "nginx-temp"):
            os.makedirs(t(d), exist_ok=True)
        with open(t("www", "index.html"), "w") as f:
            f.write("<!doctype html><title>FarmLokal test</title><p>placeholder</p>\n")
        # The snippets say `include fastcgi_params;`, which nginx resolves relative to the
        # directory of the main config file: put Debian's copy there ...
        shutil.copyfile("/etc/nginx/fastcgi_params", t("fastcgi_params"))
        # ... and `include snippets/farmlokal-fastcgi.conf;` the same way.
        if not os.path.lexists(t("snippets")):
            os.symlink(os.path.dirname(NGINX_LOCATION_CONF), t("snippets"))
        conf = """\
daemon off;
master_process on;
worker_processes 1;
# As deploy/local/up: the edge's maps run regexes on every hit (deploy/nginx/farmlokal-site.conf).
pcre_jit on;
pid {pid};
error_log {tmp}/nginx-error.log notice;
{user}
events {{ worker_connections 1024; }}

http {{
    log_format timed '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                     'rt=$request_time upstream=$upstream_status ut=$upstream_response_time';
    access_log {tmp}/access.log timed{log_buffer};
    client_body_temp_path {tmp}/nginx-temp/body;
    fastcgi_temp_path {tmp}/nginx-temp/fastcgi;
    proxy_temp_path {tmp}/nginx-temp/proxy;
    uwsgi_temp_path {tmp}/nginx-temp/uwsgi;
    scgi_temp_path {tmp}/nginx-temp/scgi;
    # Long request lines (the 8 KiB query limit is the app's to enforce, not nginx's).
    large_client_header_buffers 4 32k;

    upstream farmlokal {{
        server unix:{sock}{pool_b};
    }}
    upstream farmlokal_external {{
        server unix:{external};
    }}

    include {edge};
    fastcgi_cache_path {tmp}/edge-cache levels=1:2 keys_zone=farmlokal_edge:10m max_size=64m
                       inactive=10m use_temp_path=off;
    limit_req_zone $farmlokal_edge_client zone=farmlokal_edge_rate:10m rate={edge_rate}r/s;
    map "" $farmlokal_edge_ttl_s {{ default {edge_ttl_s}; }}

    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {tmp}/www;
        include {location};
    }}
}}
""".format(pid=t("nginx.pid"), tmp=self.tmp, sock=self.app_socket, port=self.nginx_port,
           pool_b=(" max_fails=0;\n        server unix:%s max_fails=0"
                   % self.pool_b_socket) if self.two_pools else "",
           location=NGINX_LOCATION_CONF, user="user root root;" if _is_root() else "",
           external=self.external_socket, edge=NGINX_EDGE_CONF, edge_rate=self.edge_rate,
           edge_ttl_s=self.edge_ttl_s, log_buffer=" buffer=64k flush=1s" if self.buffered_log else "")
        with open(t("nginx.conf"), "w") as f:
            f.write(conf)

    def set_edge(self, ttl_s):
        """Turn the edge tier on (FL_EDGE_TTL_S = ttl_s) or off (0): nginx reloads its
        configuration, and the new workers have taken over when this returns."""
        self.edge_ttl_s = ttl_s
        self._write_nginx_conf()
        old = child_pids(self.procs["nginx"].pid)
        self.procs["nginx"].send_signal(signal.SIGHUP)
        poll(lambda: not set(old) & set(child_pids(self.procs["nginx"].pid)), timeout=10)

    def _spawn_nginx(self):
        argv = ["nginx", "-c", self.path("nginx.conf"), "-p", self.tmp + "/",
                "-e", self.path("nginx-error.log")]
        self.procs["nginx"] = Proc("nginx", argv, self.path("nginx.out"), env=self.base_env(), cwd=self.tmp,
                                   show=self.path("nginx-error.log"))

    def _nginx_ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.nginx_port), timeout=1.0):
                return True
        except OSError:
            return False

    def _wait_nginx(self, timeout=20.0):
        self._wait_for("nginx", self._nginx_ready, timeout)

    def nginx_stop(self):
        proc = self.procs.pop("nginx", None)
        if proc:
            proc.stop(GRACE["nginx"])

    # -- HTTP ---------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=10.0):
        """An HTTP request through nginx; never raises on 4xx/5xx. A response under the
        mount prefix that the API description does not allow raises ContractError."""
        resp = http_request(self.nginx_port, method, path, body, headers, timeout)
        route = CONTRACT.route_path(path)
        if route is not None:
            CONTRACT.check(method, route, resp)
        return resp

    def get(self, path, headers=None, timeout=10.0):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def fcgi(self, path, method="GET", query="", body=b"", headers=None, script_name="/api",
             address=None, timeout=10.0):
        """A FastCGI request straight to the app socket (no nginx), parsed as a Response.
        `path` is PATH_INFO (e.g. '/health/live'); the response is checked against the API
        description as request()'s are."""
        params = {
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": method, "SCRIPT_NAME": script_name, "PATH_INFO": path,
            "REQUEST_URI": script_name + path + ("?" + query if query else ""),
            "QUERY_STRING": query, "CONTENT_LENGTH": str(len(body)) if body else "",
            "CONTENT_TYPE": "application/json" if body else "",
            "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "SERVER_ADDR": "127.0.0.1",
            "SERVER_PORT": "80", "SERVER_NAME": "localhost",
        }
        for name, value in (headers or {}).items():
            params["HTTP_" + name.upper().replace("-", "_")] = value
        start = time.monotonic()
        out, _, _ = fcgi_request(address or self.app_socket, params, body, timeout)
        resp = parse_cgi_response(out, time.monotonic() - start)
        CONTRACT.check(method, path, resp)
        return resp

    # -- the app ------------------------------------------------------------------------

    @staticmethod
    def build_dir():
        build = os.environ.get("FL_BUILD_DIR")
        if not build:
            raise RuntimeError("FL_BUILD_DIR is not set: point it at the CMake build directory "
                               "(the one holding app/farmlokal)")
        return os.path.abspath(build)

    @classmethod
    def app_binary(cls, name="farmlokal"):
        path = os.path.join(cls.build_dir(), "app", name)
        if not os.access(path, os.X_OK):
            raise RuntimeError("%s is missing or not executable (FL_BUILD_DIR=%s): build first"
                               % (path, cls.build_dir()))
        return path

    def app_env(self, overrides=None):
        """The environment the app and farmlokal-ctl run with; an override of None unsets."""
        env = self.base_env()
        os.makedirs(self.path("metrics"), exist_ok=True)
        if self.want["mysql"]:
            env["FL_MYSQL_URL"] = self.mysql_url
        if self.want["redis"]:
            env["FL_REDIS_URL"] = self.redis_url
        env["FL_LOG_LEVEL"] = "info"
        env["FL_METRICS_DIR"] = self.path("metrics")
        # Tests drive hundreds of requests a second from one address: no rate limit unless
        # a test asks for one.
        env["FL_RATE_LIMIT"] = "0"
        for key, value in (overrides or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def ctl(self, *args, env=None, timeout=120.0):
        """Run farmlokal-ctl with the app's environment; output appended to ctl.log."""
        argv = [self.app_binary("farmlokal-ctl")] + list(args)
        res = subprocess.run(argv, env=self.app_env(env), cwd=self.tmp, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=timeout)
        with open(self.path("ctl.log"), "ab") as f:
            f.write(("\n=== %s -> %d\n" % (shlex.join(argv), res.returncode)).encode())
            f.write(res.stdout + res.stderr)
        return res

    def migrate(self, env=None):
        res = self.ctl("migrate", env=env)
        if res.returncode != 0:
            raise RuntimeError("farmlokal-ctl migrate failed (%d):\n%s%s" % (
                res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")))

    def seed(self, rows):
        """Migrates, then seeds `rows` products into an empty catalogue (farmlokal-ctl)."""
        self.migrate()
        res = self.ctl("seed", "--rows", str(rows))
        if res.returncode != 0:
            raise RuntimeError("seed failed: %s" % res.stderr.decode("utf-8", "replace"))

    def start_app(self, workers=2, env=None, extra_args=(), migrate=True, timeout=30.0):
        """Migrate, then start `farmlokal --listen unix:TMP/fl.sock --workers N` and wait
        until it answers a FastCGI request for /health/live on the socket and all N workers
        run (one answers as soon as it is forked, before the master has forked the rest)."""
        if self.app_running():
            raise RuntimeError("the app is already running (pid %d)" % self.app_pid)
        if migrate and self.want["mysql"]:
            self.migrate(env)
        argv = [self.app_binary(), "--listen", "unix:" + self.app_socket, "--workers", str(workers)]
        argv += list(extra_args)
        t = time.monotonic()
        self.procs["app"] = Proc("app", argv, self.path("app.log"), env=self.app_env(env), cwd=self.tmp)
        self._wait_for("app", self._app_answers, timeout)
        self._wait_for("app", lambda: len(self.worker_pids()) == workers, timeout)
        self.timings["app_start"] = time.monotonic() - t
        return self.app_pid

    def _app_answers(self, address=None):
        address = address or self.app_socket
        if not os.path.exists(address):
            return False
        try:
            self.fcgi("/health/live", address=address, timeout=5.0)
            return True
        except OSError:
            return False

    def app_running(self):
        proc = self.procs.get("app")
        return bool(proc and proc.alive())

    @property
    def app_proc(self):
        return self.procs["app"].popen

    @property
    def app_pid(self):
        return self.procs["app"].pid

    def worker_pids(self):
        """Pids of the master's live children (its workers), sorted."""
        return child_pids(self.app_pid)

    def wait_workers(self, count, exclude=(), timeout=10.0):
        """Poll until the master has exactly `count` workers, none of them in `exclude`.
        Returns the final worker list (check it: it may not match after a timeout)."""
        exclude = set(exclude)

        def check():
            pids = self.worker_pids()
            return pids if len(pids) == count and not exclude & set(pids) else None
        return poll(check, timeout=timeout) or self.worker_pids()

    def signal_app(self, sig):
        """Send a signal to the master process."""
        os.kill(self.app_pid, sig)

    def stop_app(self, sig=signal.SIGTERM, grace=None):
        """Stop the master (and with it its workers); return its exit status or None."""
        proc = self.procs.pop("app", None)
        if not proc:
            return None
        return proc.stop(grace or GRACE["app"], sig)

    # -- pool B (Stack(two_pools=True)) ---------------------------------------------------

    def start_pool_b(self, workers=2, env=None, runner="master", timeout=30.0):
        """Start pool B on its own socket, behind the same nginx upstream as the app:
        runner "master" (`farmlokal --listen ... --workers N`) or "multiwatch" (spawn-fcgi
        running multiwatch, which keeps N workers on fd 0). Returns its supervisor's pid."""
        return self._start_pool("pool-b", self.pool_b_socket, workers, env, runner, timeout)

    def start_external_pool(self, workers=2, env=None, timeout=30.0):
        """Start the pool nginx sends /products/external/ to (Stack(external_pool=True)),
        `farmlokal --listen ... --workers N` on its own socket. Returns the master's pid."""
        if self.external_socket == self.app_socket:
            raise RuntimeError("Stack(external_pool=True) gives /products/external/ its own pool")
        return self._start_pool("external", self.external_socket, workers, env, "master", timeout)

    def _start_pool(self, name, sock, workers, env, runner, timeout):
        binary = self.app_binary()
        if runner == "master":
            argv = [binary, "--listen", "unix:" + sock, "--workers", str(workers)]
        else:
            argv = ["spawn-fcgi", "-s", sock, "-M", "0660", "-n", "--",
                    shutil.which("multiwatch") or "multiwatch", "-f", str(workers), "--", binary]
        proc = Proc(name, argv, self.path(name + ".log"), env=self.app_env(env), cwd=self.tmp)
        self.procs[name] = proc
        self._wait_for(name, lambda: self._app_answers(sock), timeout)
        poll(lambda: len(child_pids(proc.pid)) == workers, timeout=timeout)
        return proc.pid

    @property
    def pool_b_pid(self):
        return self.procs["pool-b"].pid

    def stop_pool_b(self, sig=signal.SIGTERM):
        """Stop pool B's supervisor (and its workers); return its exit status."""
        proc = self.procs.pop("pool-b", None)
        status = proc.stop(GRACE["app"], sig) if proc else None
        if os.path.exists(self.pool_b_socket):  # spawn-fcgi leaves its socket behind
            os.unlink(self.pool_b_socket)
        return status

    # -- fd-0 mode (spawn-fcgi) and CGI mode ----------------------------------------------

    def start_spawn_fcgi(self, n=2, multiwatch=False, env=None, timeout=30.0, binary=None):
        """Run the app (or another FastCGI program: binary) as n workers accepting on fd 0,
        created by spawn-fcgi.

        multiwatch=False: `spawn-fcgi -F n -P pidfile` forks n workers and exits; their
        pids come from the pidfile (they are not our children; they get the stack
        marker, so the close-time sweep catches them too).
        multiwatch=True: `spawn-fcgi -n -- multiwatch -f n -- farmlokal` stays in the
        foreground as multiwatch, whose children are the workers.
        Returns the worker pids."""
        if self.app_running() or self.fcgi_pids or "spawn-fcgi" in self.procs:
            raise RuntimeError("an app is already running on %s" % self.app_socket)
        binary = binary or self.app_binary()
        log = self.path("app.log")
        spawn = ["spawn-fcgi", "-s", self.app_socket, "-M", "0660"]
        t = time.monotonic()
        if multiwatch:
            argv = spawn + ["-n", "--", shutil.which("multiwatch") or "multiwatch", "-f", str(n), "--", binary]
            proc = Proc("spawn-fcgi", argv, log, env=self.app_env(env), cwd=self.tmp)
            self.procs["spawn-fcgi"] = proc
            self._wait_for("spawn-fcgi", self._app_answers, timeout)
            pids = poll(lambda: len(child_pids(proc.pid)) == n and child_pids(proc.pid), timeout=timeout)
        else:
            # In fork mode spawn-fcgi points the children's stdout/stderr at /dev/null;
            # a shell that execs the binary keeps its stderr in app.log (same pid).
            pidfile = self.path("spawn-fcgi.pid")
            argv = spawn + ["-F", str(n), "-P", pidfile, "--",
                            "/bin/sh", "-c", 'exec "$0" 2>>"$1"', binary, log]
            with open(self.path("spawn-fcgi.log"), "ab") as f:
                res = subprocess.run(argv, env=self.app_env(env), cwd=self.tmp, stdin=subprocess.DEVNULL,
                                     stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
            try:
                with open(pidfile) as f:
                    self.fcgi_pids = [int(p) for p in f.read().split()]
            except OSError:
                self.fcgi_pids = []
            if res.returncode != 0 or len(self.fcgi_pids) != n:
                raise RuntimeError("spawn-fcgi failed (%d), pids %s:\n%s" % (
                    res.returncode, self.fcgi_pids, tail(self.path("spawn-fcgi.log"))))
            if not poll(self._app_answers, timeout=timeout):
                raise RuntimeError("spawn-fcgi workers do not answer:\n" + tail(log))
            pids = list(self.fcgi_pids)
        self.timings["spawn_fcgi_start"] = time.monotonic() - t
        return pids

    def stop_spawn_fcgi(self, grace=None):
        """Stop what start_spawn_fcgi started (SIGTERM, then SIGKILL after the grace)."""
        grace = grace or GRACE["spawn-fcgi"]
        proc = self.procs.pop("spawn-fcgi", None)
        if proc:
            proc.stop(grace)
        pids, self.fcgi_pids = self.fcgi_pids, []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in pids:
            if not wait_pid_gone(pid, grace):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_pid_gone(pid, 5.0)
        try:
            os.unlink(self.app_socket)  # spawn-fcgi's workers do not remove it
        except FileNotFoundError:
            pass

    def run_cgi(self, path_info, method="GET", query="", body=b"", env=None, script_name="",
                timeout=30.0):
        """Run the binary once as a CGI program (stdin is a pipe, not a socket).

        Returns (CompletedProcess, Response parsed from stdout)."""
        cgi = {"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
               "REQUEST_METHOD": method, "SCRIPT_NAME": script_name, "PATH_INFO": path_info,
               "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost",
               "SERVER_PORT": "80"}
        if body:
            cgi["CONTENT_LENGTH"] = str(len(body))
        cgi.update(env or {})
        res = subprocess.run([self.app_binary()], input=body, env=self.app_env(cgi), cwd=self.tmp,
                             capture_output=True, timeout=timeout)
        with open(self.path("app.log"), "ab") as f:
            f.write(b"\n=== harness: CGI run\n" + res.stderr)
        return res, parse_cgi_response(res.stdout)


def _unescape_batch(field):
    """Undo the escaping of `mariadb -B` output (\\t, \\n, \\\\, \\0)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            out.append({"t": "\t", "n": "\n", "0": "\0", "\\": "\\"}.get(field[i + 1], field[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return "?"


# --------------------------------------------------------------------------------------
# unittest integration
# --------------------------------------------------------------------------------------

class StackTestCase(unittest.TestCase):
    """A TestCase with one Stack per class (cls.stack), started in setUpClass.

    Class attributes to override:
        stack_options  kwargs for Stack()
        app_workers    start the app with this many workers (None: do not start it)
        app_env        environment overrides for the app
    On a failing or erroring test the tails of the logs are printed to stderr.
    """

    stack_options = {}
    app_workers = 2
    app_env = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack = Stack(**cls.stack_options)
        cls.addClassCleanup(cls.stack.close)  # runs even if setUpClass fails
        try:
            cls.stack.start()
            if cls.app_workers:
                cls.stack.start_app(workers=cls.app_workers, env=cls.app_env)
        except BaseException:
            cls.stack.dump_logs()
            raise

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        outcome = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            sys.stderr.write("\n===== logs after %s =====" % self.id())
            self.stack.dump_logs()
        return outcome

    # -- helpers for tests ----------------------------------------------------------------

    def get(self, path, headers=None, timeout=10.0):
        return self.stack.get(path, headers=headers, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10.0):
        return self.stack.request(method, path, body=body, headers=headers, timeout=timeout)

    def assertProblem(self, resp, status):
        """resp is an RFC 9457 problem with this status, as SPEC.md describes; returns it."""
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.content_type, "application/problem+json", resp)
        try:
            problem = json.loads(resp.body.decode("utf-8"))  # strict UTF-8, valid JSON
        except ValueError as e:
            self.fail("problem body is not UTF-8 JSON (%s): %r" % (e, resp))
        self.assertIsInstance(problem, dict, resp)
        self.assertEqual(problem.get("status"), status, resp)
        for field in ("title", "detail", "instance", "request_id"):
            self.assertIsInstance(problem.get(field), str, "%s missing in %r" % (field, resp))
        self.assertTrue(problem["instance"].startswith("/api/"), resp)
        self.assertEqual(problem["request_id"], resp.headers.get("X-Request-Id"), resp)
        return problem
