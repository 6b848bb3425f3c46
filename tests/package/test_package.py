#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Debian package and the README's walkthrough "from a fresh Debian 12 server to the API
behind your nginx", followed step by step on loopback: the README's own build commands make
the .deb in a Release tree ($FL_BUILD_DIR/package-release), `dpkg-deb` and `lintian` check
it, `dpkg -x` unpacks it into a temporary root (in place of `apt install`), the README's SQL
creates the database, the shipped settings file is edited as step 4 says, the shipped
units' ExecStart lines migrate and run the pool, and a real nginx includes the shipped
snippet with the README's upstream line. Root-owned system paths are the only thing
remapped (into the temporary root)."""
import os
import re
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
import recipes  # noqa: E402

ROOT = harness.REPO_ROOT
README = os.path.join(ROOT, "README.md")
SECTION = "### On a server: from a fresh Debian 12 server to the API behind your nginx"


def walkthrough():
    """The README section's code lines, in order (indented blocks inside the list)."""
    text = recipes.read(README)
    start = text.index(SECTION)
    end = text.index("\n### ", start + len(SECTION))
    lines, pending = [], ""
    for line in text[start:end].splitlines():
        if line.startswith("       ") and line.strip() and not line.strip().startswith("|"):
            pending += line.strip()
            if pending.endswith("\\"):
                pending = pending[:-1]
                continue
            lines.append(pending)
            pending = ""
    return lines


def version():
    return re.search(r"project\(farmlokal VERSION (\S+)", recipes.read(os.path.join(ROOT, "CMakeLists.txt"))).group(1)


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(argv, **kw)


class PackageTest(recipes.SmokeChecks, harness.StackTestCase):
    stack_options = {"nginx": False}
    app_workers = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.steps = walkthrough()
        cls.build = os.path.join(harness.Stack.build_dir(), "package-release")
        cls.deb = os.path.join(cls.build, "farmlokal_%s_amd64.deb" % version())
        # Step 1, the README's own commands, with its build-release/ here.
        for step in cls.steps:
            if step.startswith("cmake ") or "cpack" in step:
                cmd = step.replace("build-release", cls.build)
                res = run(["sh", "-c", cmd], cwd=ROOT, timeout=900)
                if res.returncode != 0:
                    raise RuntimeError("%s failed:\n%s%s" % (step, res.stdout[-3000:], res.stderr[-3000:]))
        cls.root = cls.stack.path("root")
        # Step 2: the package's files, as `apt install` would place them.
        res = run(["dpkg-deb", "-x", cls.deb, cls.root])
        if res.returncode != 0:
            raise RuntimeError(res.stderr)

    def step(self, prefix):
        found = [s for s in self.steps if s.startswith(prefix)]
        self.assertTrue(found, "the README's walkthrough has no step %r" % prefix)
        return found

    def in_root(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    # -- the package itself -------------------------------------------------------------

    def test_the_package_holds_what_an_admin_needs(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout
        paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
        for path in ["/usr/bin/farmlokal", "/usr/bin/farmlokal-ctl",
                     "/lib/systemd/system/farmlokal@.socket", "/lib/systemd/system/farmlokal@.service",
                     "/lib/systemd/system/farmlokal-master@.service",
                     "/lib/systemd/system/farmlokal-migrate.service",
                     "/etc/nginx/snippets/farmlokal-location.conf", "/etc/nginx/sites-available/farmlokal",
                     "/etc/lighttpd/conf-available/50-farmlokal.conf",
                     "/etc/lighttpd/conf-available/50-farmlokal-bin-path.conf",
                     "/etc/farmlokal/farmlokal.env",
                     "/usr/share/man/man8/farmlokal.8.gz", "/usr/share/man/man8/farmlokal-ctl.8.gz",
                     "/usr/share/doc/farmlokal/copyright"]:
            self.assertIn(path, paths)
        # The shipped files are the repository's, byte for byte.
        for shipped, source in [("/etc/nginx/snippets/farmlokal-location.conf", "deploy/nginx/farmlokal-location.conf"),
                                ("/etc/farmlokal/farmlokal.env", "deploy/farmlokal.env.example"),
                                ("/lib/systemd/system/farmlokal@.service", "deploy/systemd/farmlokal@.service")]:
            self.assertEqual(recipes.read(self.in_root(shipped)), recipes.read(os.path.join(ROOT, source)), shipped)
        # Nothing of the build machine or the tests.
        self.assertFalse([p for p in paths if "test" in p or p.startswith("/usr/local") or "/work/" in p], paths)

    def test_control_conffiles_and_dependencies(self):
        conffiles = run(["dpkg-deb", "-f", self.deb, "Package"]).stdout.strip()
        self.assertEqual(conffiles, "farmlokal")
        tmp = self.stack.path("control")
        self.assertEqual(run(["dpkg-deb", "-e", self.deb, tmp]).returncode, 0)
        conffiles = recipes.read(os.path.join(tmp, "conffiles")).split()
        self.assertIn("/etc/farmlokal/farmlokal.env", conffiles)
        self.assertIn("/etc/nginx/snippets/farmlokal-location.conf", conffiles)
        for path in conffiles:
            self.assertTrue(os.path.isfile(self.in_root(path)), path)
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout
        # dpkg-shlibdeps found the libraries; multiwatch and adduser are the units' and postinst's.
        for pkg in ("libmariadb3", "libhiredis", "libfcgi0ldbl", "libcurl4", "libjson-c5", "libssl3", "libc6",
                    "multiwatch", "adduser"):
            self.assertIn(pkg, depends)
        self.assertEqual(run(["dpkg-deb", "-f", self.deb, "Architecture"]).stdout.strip(), "amd64")
        # The binaries are release builds: no sanitizer runtime linked in.
        for prog in ("farmlokal", "farmlokal-ctl"):
            self.assertNotIn("asan", run(["ldd", self.in_root("/usr/bin/" + prog)]).stdout)
        for script in ("postinst", "postrm"):
            path = os.path.join(tmp, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            self.assertEqual(run(["sh", "-n", path]).returncode, 0, script)
        self.assertIn("dpkg-statoverride --update --add root farmlokal 0640 /etc/farmlokal/farmlokal.env",
                      recipes.read(os.path.join(tmp, "postinst")))
        man = run(["man", "-l", "-Tutf8", self.in_root("/usr/share/man/man8/farmlokal-ctl.8.gz")],
                  env=dict(os.environ, MANWIDTH="80"))
        self.assertIn("migrate", man.stdout)

    def test_cmake_install_places_the_same_files_and_keeps_edited_settings(self):
        dest = self.stack.path("destdir")
        env = dict(os.environ, DESTDIR=dest)
        res = run(["cmake", "--install", self.build], env=env, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        installed = {os.path.relpath(os.path.join(d, f), dest) for d, _, files in os.walk(dest) for f in files}
        listing = run(["dpkg-deb", "-c", self.deb]).stdout.splitlines()
        packaged = {line.split()[-1][2:] for line in listing if not line.startswith("d")}
        self.assertTrue(packaged <= installed, packaged - installed)
        settings = os.path.join(dest, "etc/farmlokal/farmlokal.env")
        with open(settings, "a") as f:
            f.write("FL_ADMIN_TOKEN=edited-by-the-admin-here\n")
        res = run(["cmake", "--install", self.build], env=env, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("edited-by-the-admin-here", recipes.read(settings))

    def test_lintian_reports_no_error(self):
        self.assertTrue(shutil.which("lintian"), "lintian is missing: deploy/install-deps test")
        res = run(["lintian", "--allow-root", "--no-tag-display-limit", self.deb], timeout=600)
        errors = [l for l in res.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], res.stdout)
        self.assertIn(res.returncode, (0, 2), res.stderr)  # 2: lintian found only warnings

    # -- the walkthrough ------------------------------------------------------------------

    def test_walkthrough_from_the_deb_to_the_api_behind_nginx(self):
        s = self.stack
        self.step("apt install ./build-release/farmlokal_%s_amd64.deb" % version())

        # Step 3: the README's SQL, on a server without the database yet.
        s.sql("DROP DATABASE farmlokal; DROP USER 'farmlokal'@'localhost'; DROP USER 'farmlokal'@'127.0.0.1';")
        password = "Wrd-%s" % os.getpid()
        sql = self.step("mariadb -e ")[0]
        sql = sql[len('mariadb -e "'):-1].replace("PASSWORD", password)
        s.sql(sql)

        # Step 4: edit the one file.
        env_file = self.in_root("/etc/farmlokal/farmlokal.env")
        text = recipes.remap(recipes.read(env_file), [
            ("FL_MYSQL_URL=mysql://farmlokal:CHANGE-ME@127.0.0.1:3306/farmlokal",
             "FL_MYSQL_URL=mysql://farmlokal:%s@127.0.0.1:%d/farmlokal" % (password, s.mysql_port)),
            ("FL_REDIS_URL=redis://127.0.0.1:6379/0", "FL_REDIS_URL=" + s.redis_url),
        ])
        with open(env_file, "w") as f:
            f.write(text + "FL_RATE_LIMIT=0\n")
        env = recipes.bare_env(s)
        usr_bin = self.in_root("/usr/bin") + "/"
        for cmd in self.step("farmlokal-ctl --config /etc/farmlokal/farmlokal.env "):
            argv = cmd.replace("/etc/farmlokal/farmlokal.env", env_file).split()
            res = run([usr_bin + argv[0]] + argv[1:], env=env, timeout=120)
            self.assertEqual(res.returncode, 0, "%s: %s%s" % (cmd, res.stdout, res.stderr))
        # The shipped migrate unit runs the same, applying nothing new.
        units = self.in_root("/lib/systemd/system")
        mapping = [("/etc/farmlokal/farmlokal.env", env_file), ("/usr/bin/farmlokal", usr_bin + "farmlokal"),
                   ("/run/farmlokal/", self.in_root("/run/farmlokal") + "/"),
                   ("/var/lib/farmlokal", self.in_root("/var/lib/farmlokal"))]
        migrate = os.path.join(units, "farmlokal-migrate.service")
        argv = recipes.unit_command(migrate, "ExecStart", "", recipes.unit_environment(migrate), mapping)
        res = run(argv, env=env, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        res = run([usr_bin + "farmlokal-ctl", "--config", env_file, "seed", "--rows", "5"], env=env, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)

        # Step 5: the socket unit's socket, and the service's ExecStart with it on fd 0.
        self.step("systemctl enable --now farmlokal@main.socket")
        listen = recipes.unit_values(os.path.join(units, "farmlokal@.socket"), "Socket")["ListenStream"][0]
        sock = listen.replace("%i", "main")
        for old, new in mapping:
            sock = sock.replace(old, new)
        os.makedirs(os.path.dirname(sock), exist_ok=True)
        service = os.path.join(units, "farmlokal@.service")
        unit_env = dict(env, **recipes.unit_environment(service))
        for old, new in mapping:
            unit_env["FL_METRICS_DIR"] = unit_env["FL_METRICS_DIR"].replace(old, new)
        os.makedirs(unit_env["FL_METRICS_DIR"], exist_ok=True)
        argv = recipes.unit_command(service, "ExecStart", "main", unit_env, mapping)
        pool = harness.Proc("pool", ["spawn-fcgi", "-s", sock, "-M", "0660", "-n", "--"] + argv,
                            s.path("pool.log"), env=unit_env)
        s.procs["pool"] = pool
        self.assertTrue(harness.poll(lambda: s._app_answers(sock), timeout=20), harness.tail(pool.log))

        # Step 6: nginx with the README's http-level lines and the shipped snippet.
        first = self.steps.index(self.step("upstream farmlokal ")[0])
        last = self.steps.index(self.step("include snippets/farmlokal-location.conf")[0])
        installed = self.in_root("/etc/nginx/snippets") + "/"
        http, include = self.steps[first:last], self.steps[last].replace("snippets/", installed)
        http = [line.replace("/run/farmlokal/main.sock", sock).replace("snippets/", installed)
                .replace("/var/cache/nginx/farmlokal-edge", s.path("nginx-edge")) for line in http]
        port = harness.free_port()
        http_level = """
    %s
    server {
        listen 127.0.0.1:%d;
        root %s;
        %s
    }""" % ("\n    ".join(http), port, s.tmp, include)
        recipes.wait_port(port, recipes.start_nginx(s, "nginx", http_level))
        r = recipes.request(port, "GET", "/api/health")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "ok", r)
        self.check_recipe(port)


if __name__ == "__main__":
    unittest.main()
