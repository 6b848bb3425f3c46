#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Docker files, checked without a Docker engine (none runs on these machines):
docker-compose.yml must resolve with docker-compose (Debian's package), every file it and
the Dockerfile name must exist, and the image must install its packages with
deploy/install-deps, the same script tests/run and deploy/local/up use. The build context
must leave var/ and build trees out as docker-compose v1 itself computes it; the entrypoint
must percent-encode FL_DB_PASSWORD into a URL a real MariaDB accepts; and nginx's config
must pass the smoke checks through a real nginx and follow `app` to a new address."""
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import yaml

import harness
import recipes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPOSE = os.path.join(ROOT, "docker-compose.yml")
DOCKERFILE = os.path.join(ROOT, "deploy", "docker", "Dockerfile")
ENTRYPOINT = os.path.join(ROOT, "deploy", "docker", "entrypoint")
NGINX_CONF = os.path.join(ROOT, "deploy", "docker", "nginx.conf")
# Passwords an admin may well choose: every URL-reserved character, a space, quotes, UTF-8.
PASSWORDS = ["p@ss:w/rd", "100%?#[x]", "sp ace&=+;,$!*'()\"", "grüße-€", "plain-_.~"]


def compose_config(path):
    return subprocess.run(["docker-compose", "-f", path, "config", "-q"], cwd=ROOT,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


class DeployFilesTest(unittest.TestCase):
    def test_compose_file_resolves(self):
        res = compose_config(COMPOSE)
        self.assertEqual(res.returncode, 0, res.stderr)

    def test_a_broken_compose_file_is_refused(self):
        # The validator itself can fail: an unknown service key is refused.
        with open(COMPOSE) as f:
            text = f.read()
        broken = text.replace("    build:\n", "    biuld:\n", 1)
        self.assertNotEqual(broken, text)
        with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=ROOT, delete=False) as f:
            f.write(broken)
        try:
            self.assertNotEqual(compose_config(f.name).returncode, 0)
        finally:
            os.unlink(f.name)

    def test_files_named_by_compose_exist(self):
        with open(COMPOSE) as f:
            text = f.read()
        named = re.findall(r"dockerfile:\s*(\S+)", text) + re.findall(r"-\s*\./([^:\s]+):", text)
        self.assertTrue(named)
        for path in named:
            self.assertTrue(os.path.exists(os.path.join(ROOT, path)), path)

    def test_image_uses_the_shared_install_script_and_existing_files(self):
        with open(DOCKERFILE) as f:
            lines = f.read().splitlines()
        runs = " ".join(l for l in lines if l.startswith("RUN"))
        self.assertIn("deploy/install-deps build", runs)
        self.assertIn("install-deps runtime", runs)
        for line in lines:
            if line.startswith("COPY") and "--from=" not in line:
                for src in line.split()[1:-1]:
                    self.assertTrue(os.path.exists(os.path.join(ROOT, src)), line)

    def test_compose_resolves_to_a_root_context_with_the_password_apart(self):
        res = subprocess.run(["docker-compose", "-f", COMPOSE, "config"], cwd=ROOT, capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, env=dict(os.environ, FL_DB_PASSWORD="p@ss:w/rd"))
        self.assertEqual(res.returncode, 0, res.stderr)
        config = yaml.safe_load(res.stdout)
        app = config["services"]["app"]
        self.assertEqual(os.path.realpath(app["build"]["context"]), os.path.realpath(ROOT))
        env = app["environment"]
        self.assertEqual(env["FL_DB_PASSWORD"], "p@ss:w/rd")
        self.assertNotIn("p@ss", env["FL_MYSQL_URL"])  # the entrypoint puts it in, encoded
        self.assertNotIn(":", env["FL_MYSQL_URL"].split("//", 1)[1].split("@", 1)[0])
        # nginx gets its own config file and the shared snippets, not the location snippet
        # (whose upstream would resolve app once), published on loopback.
        nginx = config["services"]["nginx"]
        mounts = [v if isinstance(v, str) else v.get("source", "") for v in nginx["volumes"]]
        self.assertIn("deploy/docker/nginx.conf", mounts[0])
        self.assertEqual(sorted(os.path.basename(m.split(":")[0]) for m in mounts[1:]),
                         ["farmlokal-edge.conf", "farmlokal-error.conf", "farmlokal-fastcgi.conf"])
        self.assertFalse([m for m in mounts if "farmlokal-location.conf" in m], mounts)
        ports = nginx["ports"][0]
        self.assertEqual(ports.get("host_ip") if isinstance(ports, dict) else ports.split(":")[0],
                         "127.0.0.1", ports)

    def test_one_dockerignore_at_the_context_root_keeps_var_and_build_trees_out(self):
        # docker-compose v1 and the classic builder read only <context>/.dockerignore.
        others = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(ROOT, "deploy"))
                  for f in files if f.endswith("dockerignore")]
        self.assertEqual(others, [])
        from docker.utils.build import exclude_paths  # what docker-compose v1 sends
        with open(os.path.join(ROOT, ".dockerignore")) as f:
            patterns = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        with tempfile.TemporaryDirectory() as tree:
            files = ["CMakeLists.txt", "app/main.c", "lib/fl_db.c", "sql/001_init.sql", "tests/run",
                     "deploy/install-deps", "deploy/docker/Dockerfile", "var/run/mysqld.sock.lock",
                     "var/mysql/ibdata1", "build/app/farmlokal", "build-release/CMakeCache.txt",
                     "build-asan/app/farmlokal.o", "lib/fl_db.o", "tests/integration/__pycache__/h.pyc"]
            for name in files:
                os.makedirs(os.path.join(tree, os.path.dirname(name)), exist_ok=True)
                open(os.path.join(tree, name), "w").close()
            sent = set(exclude_paths(tree, patterns, dockerfile="deploy/docker/Dockerfile"))
        self.assertEqual(sorted(p for p in sent if os.path.basename(p) in {os.path.basename(f) for f in files}),
                         sorted(["CMakeLists.txt", "app/main.c", "lib/fl_db.c", "sql/001_init.sql", "tests/run",
                                 "deploy/install-deps", "deploy/docker/Dockerfile"]))


def entrypoint_env(url, password, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FL_")}
    env.update({"FL_MYSQL_URL": url, "FL_DB_PASSWORD": password}, **(extra or {}))
    return env


class EntrypointTest(unittest.TestCase):
    """deploy/docker/entrypoint's percent-encoding, against a real MariaDB."""

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(redis=False, nginx=False)
        cls.addClassCleanup(cls.stack.close)
        cls.stack.start()
        cls.ctl_dir = os.path.dirname(cls.stack.app_binary("farmlokal-ctl"))

    def run_entrypoint(self, password, *command, url=None):
        url = url or "mysql://farmlokal@127.0.0.1:%d/farmlokal" % self.stack.mysql_port
        env = entrypoint_env(url, password, {"PATH": self.ctl_dir + ":" + os.environ["PATH"]})
        return subprocess.run(["sh", ENTRYPOINT] + list(command), env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)

    def test_the_url_carries_the_password_encoded(self):
        from urllib.parse import unquote
        for password in PASSWORDS:
            with self.subTest(password=password):
                res = self.run_entrypoint(password, "sh", "-c", 'printf "%s|%s" "$FL_MYSQL_URL" "${FL_DB_PASSWORD-unset}"')
                self.assertEqual(res.returncode, 0, res.stderr)
                url, rest = res.stdout.split("|")
                self.assertEqual(rest, "unset")  # only the URL carries the secret on
                userinfo = url.split("//", 1)[1].rsplit("@", 1)[0]
                user, encoded = userinfo.split(":", 1)
                self.assertEqual(user, "farmlokal")
                self.assertRegex(encoded, r"^[A-Za-z0-9._~%-]*$")
                self.assertEqual(unquote(encoded), password)

    def test_mariadb_accepts_the_encoded_password(self):
        for password in PASSWORDS:
            with self.subTest(password=password):
                self.stack.sql("ALTER USER 'farmlokal'@'127.0.0.1' IDENTIFIED BY '%s'"
                               % password.replace("\\", "\\\\").replace("'", "\\'"))
                res = self.run_entrypoint(password, "farmlokal-ctl", "migrate")
                self.assertEqual(res.returncode, 0, res.stdout + res.stderr)

    def test_a_url_with_its_own_password_is_refused(self):
        res = self.run_entrypoint("x", "true", url="mysql://farmlokal:y@127.0.0.1:1/farmlokal")
        self.assertEqual(res.returncode, 2, res.stderr)
        self.assertIn("FL_DB_PASSWORD", res.stderr)


class FakeDockerDns:
    """Docker's embedded DNS server, as far as nginx uses it: A records for `app` at the
    address the test sets, with a TTL of 1 s, on a loopback UDP port."""

    def __init__(self):
        self.address = "127.0.0.1"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stopped:
            try:
                query, peer = self.sock.recvfrom(512)
            except OSError:
                return
            i, labels = 12, []
            while query[i]:
                labels.append(query[i + 1:i + 1 + query[i]].decode("ascii", "replace"))
                i += 1 + query[i]
            qtype = struct.unpack("!H", query[i + 1:i + 3])[0]
            question = query[12:i + 5]
            found = ".".join(labels).lower() == "app" and qtype == 1
            header = query[:2] + struct.pack("!HHHHH", 0x8180 if found else 0x8183, 1, 1 if found else 0, 0, 0)
            answer = (struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(self.address)) if found else b""
            self.sock.sendto(header + question + answer, peer)

    def close(self):
        self.stopped = True
        self.sock.close()


class DockerNginxTest(recipes.SmokeChecks, harness.StackTestCase):
    """deploy/docker/nginx.conf in a real nginx: the API at /api/ and at /, and `app`
    followed to its new address when compose recreates the container."""

    stack_options = {"nginx": False}
    app_workers = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prepare_recipe_stack()
        cls.dns = FakeDockerDns()
        cls.addClassCleanup(cls.dns.close)
        cls.app_port = harness.free_port()
        cls.port = harness.free_port()
        conf = recipes.remap(recipes.read(NGINX_CONF), [
            ("resolver 127.0.0.11 ", "resolver 127.0.0.1:%d " % cls.dns.port),
            ("listen 3000;", "listen 127.0.0.1:%d;" % cls.port),
            ("app:9000", "app:%d" % cls.app_port),
            ("/var/cache/nginx/farmlokal-edge", cls.stack.path("nginx-docker-cache")),
        ])
        cls.start_app("127.0.0.1")
        recipes.wait_port(cls.port, recipes.start_nginx(cls.stack, "nginx-docker", conf))

    @classmethod
    def start_app(cls, address):
        argv = [cls.stack.app_binary(), "--config", cls.settings, "--listen", "%s:%d" % (address, cls.app_port),
                "--workers", "2"]
        proc = harness.Proc("app", argv, cls.stack.path("app.log"), env=recipes.bare_env(cls.stack))
        cls.stack.procs["app"] = proc
        if not harness.poll(lambda: _tcp_open(address, cls.app_port), timeout=20):
            raise RuntimeError("the app does not listen: " + harness.tail(proc.log))

    def test_api_under_api_and_at_the_root(self):
        self.check_recipe(self.port, "/api")
        self.check_recipe(self.port, "")

    def test_a_recreated_app_container_is_found_at_its_new_address(self):
        self.assertEqual(recipes.request(self.port, "GET", "/api/health/live").status, 200)
        # `docker compose up --build`: the old container goes, the new one has a new address.
        self.stack.stop_app()
        self.dns.address = "127.0.0.3"
        self.start_app("127.0.0.3")
        try:
            ok = harness.poll(lambda: recipes.request(self.port, "GET", "/api/health/live").status == 200,
                              timeout=20, interval=0.5)
            self.assertTrue(ok, "nginx still sends requests to the old address")
        finally:  # and back, for the other tests (nginx holds an address up to valid=5s)
            self.stack.stop_app()
            self.dns.address = "127.0.0.1"
            self.start_app("127.0.0.1")
            harness.poll(lambda: recipes.request(self.port, "GET", "/api/health/live").status == 200,
                         timeout=20, interval=0.5)


def _tcp_open(address, port):
    try:
        with socket.create_connection((address, port), timeout=1.0):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
