#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every shipped way of running FarmLokal, against the real server, with the same smoke
checks (recipes.SmokeChecks): nginx with two pools (deploy/nginx/farmlokal-site.conf and the
location snippet), lighttpd with bin-path and with an external socket (deploy/lighttpd/),
spawn-fcgi -F and spawn-fcgi + multiwatch (deploy/spawn-fcgi/README.md). The web-server
files are used as shipped; only their absolute paths and ports are remapped."""
import os
import shutil
import signal
import unittest

import harness
import recipes


class RecipesTest(recipes.SmokeChecks, harness.StackTestCase):
    stack_options = {"nginx": False}
    app_workers = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prepare_recipe_stack()
        cls.binary = cls.stack.app_binary()

    def tearDown(self):
        recipes.stop(self.stack, "nginx-site", "nginx-snippet", "lighttpd", "pool-a", "pool-b",
                     "multiwatch")
        self.stack.stop_spawn_fcgi()
        for name in ("a.sock", "b.sock", "main.sock"):
            if os.path.exists(self.stack.path(name)):
                os.unlink(self.stack.path(name))

    # -- the pools, as deploy/ starts them ------------------------------------------------

    def start_master(self, name, sock, workers=2):
        argv = [self.binary, "--config", self.settings, "--listen", "unix:" + sock, "--workers", str(workers)]
        proc = harness.Proc(name, argv, self.stack.path(name + ".log"), env=recipes.bare_env(self.stack))
        self.stack.procs[name] = proc
        self.assertTrue(harness.poll(lambda: self.stack._app_answers(sock), timeout=20), harness.tail(proc.log))
        return proc

    def start_multiwatch(self, name, sock, workers=2):
        # deploy/spawn-fcgi/README.md, "Four supervised workers", in the foreground (-n).
        argv = ["spawn-fcgi", "-s", sock, "-M", "0660", "-n", "--", shutil.which("multiwatch"),
                "-f", str(workers), "-s", "TERM", "--", self.binary, "--config", self.settings]
        proc = harness.Proc(name, argv, self.stack.path(name + ".log"), env=recipes.bare_env(self.stack))
        self.stack.procs[name] = proc
        self.assertTrue(harness.poll(lambda: self.stack._app_answers(sock), timeout=20), harness.tail(proc.log))
        return proc

    def nginx_with_snippet(self, sock):
        port = harness.free_port()
        snippet = os.path.join(recipes.DEPLOY, "nginx", "farmlokal-location.conf")
        http_level = """
    upstream farmlokal { server unix:%s; }
    upstream farmlokal_external { server unix:%s; }
    include snippets/farmlokal-edge.conf;
    fastcgi_cache_path %s keys_zone=farmlokal_edge:1m;
    limit_req_zone $farmlokal_edge_client zone=farmlokal_edge_rate:1m rate=100r/s;
    map "" $farmlokal_edge_ttl_s { default 1; }
    server {
        listen 127.0.0.1:%d;
        root %s;
        include %s;
    }""" % (sock, sock, self.stack.path("nginx-snippet-edge"), port, self.stack.tmp, snippet)
        recipes.wait_port(port, recipes.start_nginx(self.stack, "nginx-snippet", http_level))
        return port

    # -- the recipes ----------------------------------------------------------------------

    def test_nginx_site_with_two_pools(self):
        a, b = self.stack.path("a.sock"), self.stack.path("b.sock")
        port = harness.free_port()
        os.makedirs(self.stack.path("www"), exist_ok=True)
        site = recipes.remap(recipes.read(os.path.join(recipes.DEPLOY, "nginx", "farmlokal-site.conf")), [
            ("/run/farmlokal/a.sock", a), ("/run/farmlokal/b.sock", b),
            # API A's pool: pool A's socket here, as when one pool serves both.
            ("/run/farmlokal/external.sock", a),
            ("/var/lib/nginx/farmlokal-edge", self.stack.path("nginx-site-edge")),
            ("    listen 80;\n", "    listen 127.0.0.1:%d;\n" % port), ("    listen [::]:80;\n", ""),
            ("root /var/www/farmlokal;", "root %s;" % self.stack.path("www")),
            ("include snippets/farmlokal-location.conf;",
             "include %s;" % os.path.join(recipes.DEPLOY, "nginx", "farmlokal-location.conf")),
        ])
        recipes.wait_port(port, recipes.start_nginx(self.stack, "nginx-site", site))
        self.start_master("pool-a", a)
        self.start_multiwatch("pool-b", b)
        self.check_recipe(port)
        # Either pool alone serves everything: stop A, then (A back) stop B.
        recipes.stop(self.stack, "pool-a")
        self.check_recipe(port)
        self.start_master("pool-a", a)
        recipes.stop(self.stack, "pool-b")
        os.unlink(b)  # spawn-fcgi leaves its socket behind
        self.check_recipe(port)

    def test_lighttpd_bin_path(self):
        port = harness.free_port()
        conf = recipes.remap(recipes.read(os.path.join(recipes.DEPLOY, "lighttpd", "farmlokal-bin-path.conf")), [
            ("/run/lighttpd/farmlokal.sock", self.stack.path("lt.sock")),
            ("/usr/bin/farmlokal", self.binary),
            ("/etc/farmlokal/farmlokal.env", self.settings),
        ])
        path = self.stack.path("50-farmlokal-bin-path.conf")
        with open(path, "w") as f:
            f.write(conf)
        recipes.start_lighttpd(self.stack, "lighttpd", port, path)
        self.check_recipe(port)

    def test_lighttpd_external_socket(self):
        sock = self.stack.path("main.sock")
        port = harness.free_port()
        conf = recipes.remap(recipes.read(os.path.join(recipes.DEPLOY, "lighttpd", "farmlokal.conf")), [
            ("/run/farmlokal/main.sock", sock),
        ])
        path = self.stack.path("50-farmlokal.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.start_master("pool-a", sock)
        recipes.start_lighttpd(self.stack, "lighttpd", port, path)
        self.check_recipe(port)

    def test_spawn_fcgi_fork_mode(self):
        # deploy/spawn-fcgi/README.md, "Four independent workers" (as this user: no -u/-g).
        sock = self.stack.path("main.sock")
        pidfile = self.stack.path("main.pids")
        res = harness.subprocess.run(
            ["spawn-fcgi", "-s", sock, "-M", "0660", "-F", "2", "-P", pidfile, "--",
             self.binary, "--config", self.settings],
            env=recipes.bare_env(self.stack), capture_output=True, stdin=harness.subprocess.DEVNULL, timeout=30)
        with open(pidfile) as f:
            self.stack.fcgi_pids = [int(p) for p in f.read().split()]  # stopped by tearDown
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(len(self.stack.fcgi_pids), 2)
        self.assertTrue(harness.poll(lambda: self.stack._app_answers(sock), timeout=20))
        self.check_recipe(self.nginx_with_snippet(sock))
        for pid in self.stack.fcgi_pids:
            os.kill(pid, signal.SIGTERM)

    def test_spawn_fcgi_multiwatch(self):
        sock = self.stack.path("main.sock")
        self.start_multiwatch("multiwatch", sock)
        self.check_recipe(self.nginx_with_snippet(sock))


if __name__ == "__main__":
    unittest.main()
