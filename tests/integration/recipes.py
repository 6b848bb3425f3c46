# SPDX-License-Identifier: MIT
"""The shipped deploy files run as shipped, for the recipe, Docker and package tests.

Each web-server config in deploy/ is read from the repository (or from an unpacked .deb),
only its absolute paths and listen addresses replaced with a stack's temp dir and free
ports, and started as a real nginx or lighttpd. `SmokeChecks.check_recipe` is the one set
of checks every recipe must pass; systemd units are parsed so a test can run their
ExecStart= and ExecReload= lines with the environment systemd would give them.
"""

import http.client
import json
import os
import re
import shlex
import shutil
import socket
import time

import harness

REPO = harness.REPO_ROOT
DEPLOY = os.path.join(REPO, "deploy")

# A source address on loopback that is not 127.0.0.1: a client the shipped configs must
# treat as "not this host" for /metrics.
OTHER_ADDRESS = "127.0.0.2"


def read(path):
    with open(path) as f:
        return f.read()


def remap(text, mapping):
    """Replaces each old string of `mapping` (pairs, applied in order) with its new one and
    fails if one does not occur, so a renamed path in deploy/ cannot go unnoticed."""
    for old, new in mapping:
        if old not in text:
            raise AssertionError("%r does not occur in the shipped file" % old)
        text = text.replace(old, new)
    return text


def write_settings(stack, path, extra=None):
    """An /etc/farmlokal/farmlokal.env for this stack: KEY=VALUE lines."""
    settings = {
        "FL_MYSQL_URL": stack.mysql_url,
        "FL_REDIS_URL": stack.redis_url,
        "FL_RATE_LIMIT": "0",
        "FL_METRICS_DIR": stack.path("metrics"),
        "FL_LOG_LEVEL": "info",
    }
    settings.update(extra or {})
    os.makedirs(stack.path("metrics"), exist_ok=True)
    with open(path, "w") as f:
        f.write("# written by tests/integration/recipes.py\n")
        for key, value in settings.items():
            f.write("%s=%s\n" % (key, value))
    return path


def bare_env(stack):
    """The environment a recipe's processes start with: no FL_* setting at all, so only
    the settings file counts (as on a server)."""
    env = stack.base_env()
    env["PATH"] = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def wait_port(port, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError("%s exited: %s" % (proc.name, harness.tail(proc.show)))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s does not listen on %d: %s" % (proc.name, port, harness.tail(proc.show)))


def start_nginx(stack, name, http_level):
    """A real nginx with `http_level` (upstreams and server blocks, already remapped)
    inside its http block. Returns the Proc; stack.close() stops it."""
    prefix = stack.path(name)
    os.makedirs(os.path.join(prefix, "temp"), exist_ok=True)
    shutil.copyfile("/etc/nginx/fastcgi_params", os.path.join(prefix, "fastcgi_params"))
    # The shipped files include `snippets/farmlokal-*.conf` relative to the configuration's
    # directory, as /etc/nginx/snippets/ is for an installed nginx.
    if not os.path.lexists(os.path.join(prefix, "snippets")):
        os.symlink(os.path.join(harness.REPO_ROOT, "deploy", "nginx"), os.path.join(prefix, "snippets"))
    conf = """\
daemon off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log notice;
{user}
events {{ worker_connections 256; }}
http {{
    access_log {p}/access.log;
    client_body_temp_path {p}/temp/body;
    fastcgi_temp_path {p}/temp/fastcgi;
    proxy_temp_path {p}/temp/proxy;
    uwsgi_temp_path {p}/temp/uwsgi;
    scgi_temp_path {p}/temp/scgi;
{http}
}}
""".format(p=prefix, user="user root root;" if os.getuid() == 0 else "", http=http_level)
    path = os.path.join(prefix, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    proc = harness.Proc(name, ["nginx", "-c", path, "-p", prefix + "/", "-e", prefix + "/error.log"],
                        os.path.join(prefix, "nginx.out"), env=bare_env(stack), cwd=prefix,
                        show=os.path.join(prefix, "error.log"))
    stack.procs[name] = proc
    return proc


def start_lighttpd(stack, name, port, include):
    """A real lighttpd on 127.0.0.1:port that includes the (remapped) file `include`."""
    prefix = stack.path(name)
    os.makedirs(os.path.join(prefix, "www"), exist_ok=True)
    os.makedirs(os.path.join(prefix, "upload"), exist_ok=True)
    conf = """\
server.document-root = "{p}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{p}/error.log"
server.upload-dirs = ( "{p}/upload" )
server.modules = ( "mod_access" )
include "{include}"
""".format(p=prefix, port=port, include=include)
    path = os.path.join(prefix, "lighttpd.conf")
    with open(path, "w") as f:
        f.write(conf)
    proc = harness.Proc(name, ["lighttpd", "-D", "-f", path], os.path.join(prefix, "lighttpd.out"),
                        env=bare_env(stack), cwd=prefix, show=os.path.join(prefix, "error.log"))
    stack.procs[name] = proc
    wait_port(port, proc)
    return proc


def stop(stack, *names):
    for name in names:
        proc = stack.procs.pop(name, None)
        if proc:
            proc.stop(harness.GRACE["app"])


def request(port, method, path, body=None, headers=None, source="127.0.0.1", timeout=10.0):
    """One HTTP request to 127.0.0.1:port from the loopback address `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return harness.Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


# -- systemd units -----------------------------------------------------------------------

def unit_values(path, section="Service"):
    """{key: [values]} of one section of a unit file (no line continuations in ours)."""
    values, current = {}, None
    for line in read(path).splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        if current == section and "=" in line:
            key, value = line.split("=", 1)
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def parse_env_file(path):
    """KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments, quotes)."""
    env = {}
    for line in read(path).splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def unit_environment(path, remap_path=lambda p: p):
    """The variables systemd puts into the service's environment: Environment= and the
    contents of each EnvironmentFile= (its path passed through remap_path)."""
    values = unit_values(path)
    env = {}
    for line in values.get("Environment", []):
        for word in shlex.split(line):
            key, value = word.split("=", 1)
            env[key] = value
    for name in values.get("EnvironmentFile", []):
        optional = name.startswith("-")
        name = remap_path(name.lstrip("-"))
        if os.path.exists(name) or not optional:
            env.update(parse_env_file(name))
    return env


def unit_command(path, key, instance, env, mapping=(), extra=None):
    """The argv systemd runs for `key` (ExecStart, ExecReload) of the unit at `path`:
    the last value (a drop-in style reset is honoured), %i and ${VAR}/$VAR expanded from
    env and extra, then the shipped absolute paths remapped."""
    cmd = [v for v in unit_values(path).get(key, []) if v][-1]
    cmd = cmd.lstrip("-@:+!")
    variables = dict(env)
    variables.update(extra or {})
    cmd = cmd.replace("%i", instance)
    cmd = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), ""), cmd)
    argv = shlex.split(cmd)
    out = []
    for word in argv:
        for old, new in mapping:
            word = word.replace(old, new)
        out.append(word)
    return out


# -- the smoke checks --------------------------------------------------------------------

class SmokeChecks:
    """Mixin for unittest.TestCase: what every shipped recipe must do, through the real
    web server on `port`, with the API mounted at `prefix` (and products in the catalogue)."""

    @classmethod
    def prepare_recipe_stack(cls):
        """For setUpClass, once the stack runs: a few products and the settings file the
        recipes' programs read (cls.settings)."""
        cls.stack.seed(5)
        cls.settings = write_settings(cls.stack, cls.stack.path("farmlokal.env"))

    def assertRecipeProblem(self, resp, status, instance=None):
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.content_type, "application/problem+json", resp)
        problem = json.loads(resp.body.decode("utf-8"))
        self.assertEqual(problem.get("status"), status, resp)
        if instance is not None:
            self.assertEqual(problem.get("instance"), instance, resp)
        return problem

    def check_recipe(self, port, prefix="/api"):
        # The listing, and its next-page link under the mount prefix.
        r = request(port, "GET", prefix + "/products?limit=1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["data"]), 1, r)
        link = r.headers.get("Link") or ""
        self.assertTrue(link.startswith("<%s/products?" % prefix), r)
        r = request(port, "GET", link[1:link.index(">")])
        self.assertEqual(r.status, 200, r)

        # Problems name the request under the prefix.
        self.assertRecipeProblem(request(port, "GET", prefix + "/nope"), 404, prefix + "/nope")
        problem = self.assertRecipeProblem(request(port, "GET", prefix + "/products?limit=abc"), 400,
                                           prefix + "/products")
        self.assertIn("limit", problem.get("detail", ""))

        # A body over the app's 1 MiB limit reaches the app, which answers 413 itself
        # (its problem carries an instance; a web server's own error page would not).
        size = int(1.05 * 1024 * 1024)
        body = b'{"name":"' + b"x" * (size - 11) + b'"}'
        r = request(port, "POST", prefix + "/health", body=body, headers={"Content-Type": "application/json"})
        self.assertRecipeProblem(r, 413, prefix + "/health")

        # /metrics: this host may scrape, another address may not (and gets no HTML).
        r = request(port, "GET", prefix + "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"farmlokal_", r.body)
        for path in (prefix + "/metrics", prefix + "/metrics?x=1", prefix + "/%6detrics"):
            r = request(port, "GET", path, source=OTHER_ADDRESS)
            self.assertIn(r.status, (403, 404), (path, r))
            self.assertEqual(r.content_type, "application/problem+json", (path, r))
            self.assertNotIn(b"farmlokal_", r.body, path)
