# SPDX-License-Identifier: MIT
"""Cluster scaffolding for the `cluster` tests: a harness Stack with more MariaDB replicas
and, on demand, a Redis replica and three sentinels, all on loopback under the stack's temp
dir and stopped by pid (also when a test fails), plus the load and checks the scenarios share.

    class T(cluster.ClusterTestCase):
        cluster_options = {"replicas": 3}          # or {"sentinels": True}, {"hosts": 2}
        app_env = {...}                            # the app is started by the test

Replicas are numbered from 1 in FL_MYSQL_READ_URL's order (replica 1 is the harness's own).
With hosts=N, stack.hosts lists N "hosts": the stack itself and N - 1 Host stacks, each with
its own nginx and pools on the stack's MariaDB and Redis (stack.start_apps starts a pool on
every one).
"""

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fault"))
import harness  # noqa: E402
import load  # noqa: E402
from test_catalog import ADMIN_TOKEN  # noqa: E402
from test_metrics import parse  # noqa: E402

MASTER_NAME = "flmain"
DOWN_AFTER_MS = 1000
GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"
# A node that stops answering is suspected after 1 s (default 5 s) and evicted as soon as
# every other node suspects it: the survivors stall their commits until then. No node is
# declared dead by one other alone before 30 s (evs.inactive_timeout): at 2 s, a survivor
# starved of CPU for a second while the dead node was evicted was itself declared dead,
# every node ended alone, non-primary, and the cluster refused all writes for good.
GALERA_EVS = ("evs.suspect_timeout=PT1S;evs.inactive_timeout=PT30S;evs.keepalive_period=PT0.2S;"
              "evs.inactive_check_period=PT0.2S")


class Host(harness.Stack):
    """Another host: its own nginx and pools (FastCGI sockets, metrics dir, edge cache and
    logs in a temp dir of its own), whose app uses `data`'s MariaDB and Redis, as a second
    machine sharing the data tier would. The app's settings (FL_MYSQL_READ_URL, a
    redis-sentinel:// FL_REDIS_URL) come from the test, as on the first host."""

    NGINX_OPTIONS = ("edge_ttl_s", "edge_rate", "external_pool", "two_pools")

    def __init__(self, data, **kwargs):
        super().__init__(mysql=False, redis=False,
                         **{k: v for k, v in kwargs.items() if k in self.NGINX_OPTIONS})
        self.data = data

    def app_env(self, overrides=None):
        env = {"FL_MYSQL_URL": self.data.mysql_url, "FL_REDIS_URL": self.data.redis_url}
        env.update(overrides or {})
        return super().app_env(env)


class ClusterStack(harness.Stack):
    """A Stack with `replicas` MariaDB replicas (0: none), with `sentinels` a Redis replica
    of the stack's Redis and three sentinels watching it as MASTER_NAME, and `hosts` - 1
    Hosts on its servers (self.hosts: this stack first), started and closed with it."""

    def __init__(self, replicas=0, sentinels=False, hosts=1, **kwargs):
        super().__init__(replica=replicas > 0, **kwargs)
        self.n_replicas = replicas
        self.want_sentinels = sentinels
        self.redis_replica_port = None
        self.sentinel_ports = []
        self.hosts = [self] + [Host(self, **kwargs) for _ in range(hosts - 1)]

    def start(self):
        # The extra replicas boot while the base stack boots.
        if self.n_replicas > 1:
            template = harness.mariadb_template()
            for i in range(2, self.n_replicas + 1):
                shutil.copytree(template, self.path("replica%d-data" % i), symlinks=True)
                self._spawn_replica_n(i)
        super().start()
        for i in range(2, self.n_replicas + 1):
            self._wait_for("replica%d" % i, lambda i=i: self._mysql_ping(self.replica_socket_n(i)), 60.0)
            self._follow_primary_n(i)
        if self.want_sentinels:
            self._start_sentinels()
        for host in self.hosts[1:]:
            host.start()
        return self

    def close(self):
        # The other hosts first: their pools use this stack's servers.
        for host in self.hosts[1:]:
            host.close()
        super().close()

    def start_apps(self, workers=2, env=None):
        """Starts a pool of `workers` on every host, all with the same settings `env`."""
        for host in self.hosts:
            host.start_app(workers=workers, env=env)

    def logs(self):
        logs = super().logs()
        for i, host in enumerate(self.hosts[1:], 2):
            logs.update(("host%d %s" % (i, name), path) for name, path in host.logs().items())
        for i in range(2, self.n_replicas + 1):
            logs["replica%d.err" % i] = self.path("replica%d.err" % i)
        for name in ["redis-replica.log"] + ["sentinel%d.log" % i for i in range(1, 4)]:
            logs[name] = self.path(name)
        return logs

    # -- MariaDB replicas ---------------------------------------------------------------

    def replica_socket_n(self, i):
        return self.replica_socket if i == 1 else self.path("replica%d.sock" % i)

    def replica_url_n(self, i):
        return "mysql://farmlokal:%s@localhost/farmlokal?socket=%s" % (self.db_password,
                                                                      self.replica_socket_n(i))

    @property
    def read_url(self):
        """FL_MYSQL_READ_URL for every replica."""
        return ",".join(self.replica_url_n(i) for i in range(1, self.n_replicas + 1))

    def _spawn_replica_n(self, i):
        name = "replica%d" % i
        self._spawn_mariadbd(name, name + "-data", self.replica_socket_n(i), name,
                             ["--skip-networking", "--server-id=%d" % (i + 1), "--read-only",
                              "--skip-log-bin"])

    def _follow_primary_n(self, i):
        pw = secrets.token_hex(12)
        self.sql("CREATE USER 'repl%d'@'127.0.0.1' IDENTIFIED BY '%s'; "
                 "GRANT REPLICATION SLAVE ON *.* TO 'repl%d'@'127.0.0.1';" % (i, pw, i))
        self.replica_sql_n(i, "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, "
                              "MASTER_USER='repl%d', MASTER_PASSWORD='%s', MASTER_CONNECT_RETRY=1, "
                              "MASTER_USE_GTID=slave_pos; START SLAVE;" % (self.mysql_port, i, pw))
        self.replica_sync_n(i)

    def replica_sql_n(self, i, query):
        return self.sql(query, sock=self.replica_socket_n(i))

    def replica_sync_n(self, i, timeout=30):
        pos = self.sql("SELECT @@global.gtid_binlog_pos")[0][0]
        done = self.replica_sql_n(i, "SELECT MASTER_GTID_WAIT('%s', %d)" % (pos, timeout))[0][0]
        if done != "0":
            raise RuntimeError("replica %d did not reach %s in %d s" % (i, pos, timeout))

    def replica_kill_n(self, i):
        self.procs["replica" if i == 1 else "replica%d" % i].kill()

    def replica_start_n(self, i, timeout=60.0):
        """Restart replica i on its datadir: it resumes following the primary by itself."""
        if i == 1:
            return self.replica_start(timeout)
        self._spawn_replica_n(i)
        self._wait_for("replica%d" % i, lambda: self._mysql_ping(self.replica_socket_n(i)), timeout)

    # -- Redis under Sentinel -----------------------------------------------------------

    @property
    def sentinel_url(self):
        """FL_REDIS_URL for the sentinels."""
        return "redis-sentinel://%s/%s/0" % (
            ",".join("127.0.0.1:%d" % p for p in self.sentinel_ports), MASTER_NAME)

    def _start_sentinels(self):
        self.redis_replica_port = harness.free_port()
        argv = ["redis-server", "--port", str(self.redis_replica_port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", self.tmp,
                "--replicaof", "127.0.0.1", str(self.redis_port)]
        self.procs["redis-replica"] = harness.Proc(
            "redis-replica", argv, self.path("redis-replica.log"), env=self.base_env(),
            cwd=self.tmp, deathsig=signal.SIGKILL)
        self._wait_for("redis-replica", lambda: self.redis_cmd(self.redis_replica_port, "ROLE")
                       .startswith("slave") and "connected" in self.redis_cmd(
                           self.redis_replica_port, "ROLE"), 20.0)
        for i in range(1, 4):
            port = harness.free_port()
            conf = self.path("sentinel%d.conf" % i)
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n"
                        "sentinel monitor %s 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds %s %d\n"
                        "sentinel failover-timeout %s 10000\n"
                        "sentinel parallel-syncs %s 1\n"
                        % (port, self.tmp, MASTER_NAME, self.redis_port, MASTER_NAME,
                           DOWN_AFTER_MS, MASTER_NAME, MASTER_NAME))
            self.procs["sentinel%d" % i] = harness.Proc(
                "sentinel%d" % i, ["redis-sentinel", conf], self.path("sentinel%d.log" % i),
                env=self.base_env(), cwd=self.tmp, deathsig=signal.SIGKILL)
            self.sentinel_ports.append(port)
        self.wait_sentinels(self.redis_port)

    def wait_sentinels(self, primary_port, timeout=30.0):
        """Waits until every sentinel names primary_port and knows its replica and the two
        other sentinels (what a failover needs)."""
        def settled():
            for port in self.sentinel_ports:
                out = self.redis_cmd(port, "SENTINEL", "MASTER", MASTER_NAME).split("\n")
                info = dict(zip(out[0::2], out[1::2]))
                if (info.get("port") != str(primary_port) or info.get("num-slaves") != "1"
                        or info.get("num-other-sentinels") != "2"):
                    return False
            return True
        if wait_until(settled, timeout, interval=0.2) is None:
            raise RuntimeError("the sentinels did not settle on port %d" % primary_port)

    def redis_ports(self):
        """(primary, replica): the Redis servers' ports as the first sentinel sees them."""
        named = self.sentinel_master(self.sentinel_ports[0])
        primary = named[1] if named else self.redis_port
        return primary, self.redis_replica_port if primary == self.redis_port else self.redis_port

    def sentinel_signal(self, i, sig):
        """Sends sig (SIGSTOP, SIGCONT) to sentinel i (from 1)."""
        os.kill(self.procs["sentinel%d" % i].pid, sig)

    def redis_kill_port(self, port):
        self.procs["redis" if port == self.redis_port else "redis-replica"].kill()

    def repoint_sentinels(self, primary_port):
        """Makes every sentinel monitor primary_port as MASTER_NAME, as after a failover."""
        for port in self.sentinel_ports:
            self.redis_cmd(port, "SENTINEL", "REMOVE", MASTER_NAME)
            self.redis_cmd(port, "SENTINEL", "MONITOR", MASTER_NAME, "127.0.0.1", str(primary_port), "2")
            self.redis_cmd(port, "SENTINEL", "SET", MASTER_NAME, "down-after-milliseconds",
                           str(DOWN_AFTER_MS), "failover-timeout", "10000")

    def redis_failover(self, timeout=30.0):
        """SIGKILLs the Redis primary and waits until the second sentinel names the replica
        instead: (the new primary's port, seconds that took; None when it did not)."""
        primary, replica = self.redis_ports()
        self.redis_kill_port(primary)
        took = wait_until(lambda: self.sentinel_master(self.sentinel_ports[1]) == ("127.0.0.1", replica),
                          timeout=timeout, interval=0.1)
        return replica, took

    def app_redis_clients(self, port):
        """How many connections the Redis at port has from others than the sentinels, a
        replica and this question (from the workers, when no test is connected)."""
        return sum(1 for line in self.redis_cmd(port, "CLIENT", "LIST").splitlines()
                   if "name=sentinel-" not in line and "flags=S" not in line
                   and "cmd=client" not in line)

    def redis_cmd(self, port, *args):
        """One command with redis-cli to 127.0.0.1:port; its output ('' when unreachable)."""
        res = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port)] + list(args),
                                     stdin=subprocess.DEVNULL, capture_output=True,
                                     text=True, timeout=10)
        return res.stdout.strip() if res.returncode == 0 else ""

    def sentinel_master(self, port):
        """(host, port) the sentinel at port names as the primary, or None."""
        out = self.redis_cmd(port, "SENTINEL", "get-master-addr-by-name", MASTER_NAME).split()
        return (out[0], int(out[1])) if len(out) == 2 and out[1].isdigit() else None


class GaleraStack(ClusterStack):
    """A ClusterStack (so with `hosts`) whose MariaDB is node 1 of a Galera cluster
    (galera-4) of `nodes` nodes on loopback: node 1 bootstraps it (--wsrep-new-cluster) and
    gets the database, the others join it by a full state transfer (rsync SST). Node i (from
    1) answers on 127.0.0.1:node_port(i) and its own socket; stack.sql() asks node 1. Failure
    detection is cut to about a second (GALERA_EVS), so the survivors evict a killed node
    quickly."""

    def __init__(self, nodes=3, **kwargs):
        super().__init__(**kwargs)
        self.n_nodes = nodes
        # Per node: the group channel, incremental and full state transfer ports.
        self.galera_ports = [(harness.free_port(), harness.free_port(), harness.free_port())
                             for _ in range(nodes)]
        self.node_ports = [None] + [harness.free_port() for _ in range(1, nodes)]

    def start(self):
        super().start()
        self.node_ports[0] = self.mysql_port
        template = harness.mariadb_template()
        for i in range(2, self.n_nodes + 1):
            shutil.copytree(template, self.path("galera%d-data" % i), symlinks=True)
            self._let_sst_write("galera%d-data" % i)
            self._spawn_node(i)
        # All at once: a node seen Synced can turn donor to a later joiner (rsync SST
        # desyncs it, and it refuses queries with 1047) after it was looked at.
        self._wait_for("mysql", lambda: all(
            self.node_status(i, "wsrep_local_state_comment") == "Synced" and
            self.node_status(i, "wsrep_ready") == "ON" for i in range(1, self.n_nodes + 1)),
            60.0)
        return self

    def logs(self):
        logs = super().logs()
        for i in range(2, self.n_nodes + 1):
            logs["galera%d.err" % i] = self.path("galera%d.err" % i)
        return logs

    def node_socket(self, i):
        return self.mysql_socket if i == 1 else self.path("galera%d.sock" % i)

    def node_port(self, i):
        return self.node_ports[i - 1]

    def nodes_url(self, order=None):
        """FL_MYSQL_URL listing the nodes over TCP, in `order` (node numbers; default all
        in turn)."""
        order = order or range(1, self.n_nodes + 1)
        return "mysql://farmlokal:%s@%s/farmlokal" % (
            self.db_password, ",".join("127.0.0.1:%d" % self.node_port(i) for i in order))

    def node_sql(self, i, query, database=None):
        return self.sql(query, database, sock=self.node_socket(i))

    def node_status(self, i, name):
        """A wsrep status variable of node i ('' when the node does not answer)."""
        try:
            rows = self.node_sql(i, "SHOW GLOBAL STATUS LIKE '%s'" % name)
        except RuntimeError:
            return ""
        return rows[0][1] if rows else ""

    def node_kill(self, i):
        """SIGKILL node i and wait for it to be gone."""
        self.procs["mysql" if i == 1 else "galera%d" % i].kill()

    def _wsrep_args(self, i):
        group, ist, sst = self.galera_ports[i - 1]
        return ["--wsrep-on=ON", "--wsrep-provider=" + GALERA_PROVIDER,
                "--wsrep-cluster-name=farmlokal-test", "--wsrep-node-name=node%d" % i,
                "--wsrep-cluster-address=gcomm://" + ",".join(
                    "127.0.0.1:%d" % p[0] for p in self.galera_ports),
                "--wsrep-node-address=127.0.0.1:%d" % group,
                "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:%d;"
                "ist.recv_addr=127.0.0.1:%d;gcache.size=64M;%s" % (group, ist, GALERA_EVS),
                "--wsrep-sst-method=rsync", "--wsrep-sst-receive-address=127.0.0.1:%d" % sst,
                "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2"]

    def _let_sst_write(self, datadir):
        """The joiner's rsync daemon, started as root, runs as `nobody`: it must reach the
        datadir through the stack's private dir and write into it."""
        if os.geteuid() == 0:
            os.chmod(self.tmp, 0o711)
            nobody = pwd.getpwnam("nobody")
            for top, dirs, files in os.walk(self.path(datadir)):
                for name in [top] + [os.path.join(top, n) for n in dirs + files]:
                    os.lchown(name, nobody.pw_uid, nobody.pw_gid)

    def _spawn_mysql(self):
        self._spawn_mariadbd("mysql", "mysql-data", self.mysql_socket, "mariadb",
                             ["--port=%d" % self.mysql_port, "--bind-address=127.0.0.1",
                              "--skip-log-bin", "--wsrep-new-cluster"] + self._wsrep_args(1)
                             + self.mysql_args)

    def _spawn_node(self, i):
        name = "galera%d" % i
        self._spawn_mariadbd(name, name + "-data", self.node_socket(i), name,
                             ["--port=%d" % self.node_port(i), "--bind-address=127.0.0.1",
                              "--skip-log-bin"] + self._wsrep_args(i) + self.mysql_args)


class ClusterTestCase(harness.StackTestCase):
    """A StackTestCase whose stack is a stack_class(**cluster_options) (a ClusterStack, or a
    GaleraStack); the app is not started (the test knows its URLs only once the stack runs)."""

    stack_class = ClusterStack
    cluster_options = {}
    app_workers = None

    @classmethod
    def setUpClass(cls):
        cls.stack = cls.stack_class(**cls.cluster_options)
        cls.addClassCleanup(cls.stack.close)  # runs even if setUpClass fails
        try:
            cls.stack.start()
            cls.prepare()
        except BaseException:
            cls.stack.dump_logs()
            raise

    @classmethod
    def prepare(cls):
        """Start what the scenario needs (override)."""

    def metrics(self):
        r = self.get("/api/metrics")
        self.assertEqual(r.status, 200, r)
        return parse(r.text)

    def listing_load(self, kind="miss", threads=4, **kwargs):
        """A load of listings of one kind of tests/fault/load.py: "miss" (cache misses) or
        "cached" (a handful of keys: hits); not started: use it in a with block."""
        return load.Load(self.stack, [], mix={kind: 1}, threads=threads, **kwargs)


class Writer(threading.Thread):
    """Writes a product's stock again and again with an admin PATCH and, after each write
    answered 200, reads the listing that holds the product (a search for its own word):
    the listing must show that stock or a later one. .problems lists what went wrong,
    .checks counts the listings checked."""

    def __init__(self, stack, pid, word):
        super().__init__(daemon=True)
        self.stack, self.pid, self.word = stack, pid, word
        self.problems, self.checks = [], 0
        self.stop_event = threading.Event()

    def run(self):
        headers = {"Authorization": "Bearer " + ADMIN_TOKEN, "Content-Type": "application/json"}
        stock = 0
        while not self.stop_event.is_set():
            stock += 1
            try:
                r = self.stack.request("PATCH", "/api/products/%d" % self.pid,
                                       body='{"stock": %d}' % stock, headers=headers)
                if r.status != 200:
                    self.problems.append("PATCH stock=%d: %d" % (stock, r.status))
                    continue
                r = self.stack.get("/api/products?limit=5&search=" + self.word)
            except OSError as e:
                self.problems.append("stock=%d: %r" % (stock, e))
                continue
            if r.status != 200:
                self.problems.append("listing after stock=%d: %d" % (stock, r.status))
                continue
            seen = [p["stock"] for p in r.json()["data"] if p["id"] == self.pid]
            if seen != [stock]:
                self.problems.append("listing after stock=%d showed %s (X-Cache %s)"
                                     % (stock, seen, r.headers.get("X-Cache")))
            self.checks += 1

    def stop(self):
        self.stop_event.set()
        self.join(30)


def wait_until(fn, timeout, interval=0.05):
    """Calls fn until it returns true; the seconds that took, or None at the timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if fn():
            return time.monotonic() - t0
        time.sleep(interval)
    return None

