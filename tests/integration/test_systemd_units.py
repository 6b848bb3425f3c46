#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The systemd units of deploy/systemd/: `systemd-analyze verify` accepts them, and their
commands do what the units promise when run with the environment systemd would give them
(Environment= and EnvironmentFile=), paths remapped to a temp dir: in master mode an edited
setting takes effect on `systemctl reload`, and a socket-activated pool reads the file."""
import os
import re
import shutil
import signal
import subprocess
import unittest

import harness
import recipes

UNITS = os.path.join(recipes.DEPLOY, "systemd")
UNIT_FILES = ["farmlokal@.socket", "farmlokal@.service", "farmlokal-master@.service",
              "farmlokal-migrate.service"]
ADMIN_TOKEN = "an-admin-token-of-some-length"
NEW_TOKEN = "the-admin-token-after-an-edit"


def verify(directory, units):
    return subprocess.run(["systemd-analyze", "verify", "--man=no"] + units, cwd=directory,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
class VerifyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = harness.tempfile.mkdtemp(prefix="fl-units-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # verify checks that each command exists: point them at the build's programs.
        app = os.path.dirname(harness.Stack.app_binary())
        for name in UNIT_FILES:
            text = recipes.read(os.path.join(UNITS, name))
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(text.replace("/usr/bin/farmlokal", os.path.join(app, "farmlokal")))
        self.instances = ["./farmlokal@main.socket", "./farmlokal@main.service",
                          "./farmlokal-master@main.service", "./farmlokal-migrate.service"]

    def test_units_verify_without_a_warning(self):
        res = verify(self.tmp, self.instances)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stderr.strip(), "", "systemd-analyze verify complained")

    def test_a_broken_unit_is_reported(self):
        path = os.path.join(self.tmp, "farmlokal-master@.service")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("KillMode=mixed", "KilMode=mixed"))
        self.assertIn("KilMode", verify(self.tmp, self.instances).stderr)

    def test_install_deps_runtime_brings_every_program_the_units_run(self):
        # farmlokal@.service runs multiwatch: a server set up with `install-deps runtime`
        # (and the .deb's Depends) must have it.
        text = recipes.read(os.path.join(recipes.DEPLOY, "install-deps"))
        runtime = re.search(r"runtime\)\s*pkgs=\"\$pkgs([^\"]*)\"", text).group(1).split()
        for name in UNIT_FILES[1:]:
            program = recipes.unit_values(os.path.join(UNITS, name))["ExecStart"][-1].split()[0]
            if program.startswith("/usr/bin/farmlokal"):
                continue
            owner = subprocess.run(["dpkg", "-S", program], capture_output=True, text=True).stdout
            self.assertTrue(owner, "%s: no Debian package has %s" % (name, program))
            self.assertIn(owner.split(":")[0], runtime, "%s runs %s" % (name, program))

    def test_every_unit_reads_the_settings_file_itself(self):
        # EnvironmentFile= would put the settings into the environment, which wins over
        # the file: an edited file would never take effect on reload.
        for name in UNIT_FILES[1:]:
            values = recipes.unit_values(os.path.join(UNITS, name))
            self.assertNotIn("EnvironmentFile", values, name)
            self.assertIn("--config /etc/farmlokal/farmlokal.env", values["ExecStart"][-1], name)


class UnitCommandsTest(harness.StackTestCase):
    stack_options = {"nginx": False}
    app_workers = None

    def setUp(self):
        self.stack.migrate()
        self.etc = self.stack.path("etc")
        os.makedirs(self.etc, exist_ok=True)
        self.settings = recipes.write_settings(self.stack, os.path.join(self.etc, "farmlokal.env"))
        app = os.path.dirname(self.stack.app_binary())
        self.mapping = [("/etc/farmlokal/farmlokal.env", self.settings),
                        ("/run/farmlokal/", self.stack.tmp + "/"),
                        ("/usr/bin/farmlokal", os.path.join(app, "farmlokal"))]

    def tearDown(self):
        recipes.stop(self.stack, "unit")
        sock = self.stack.path("main.sock")
        if os.path.exists(sock):
            os.unlink(sock)

    def unit_env(self, unit):
        env = recipes.bare_env(self.stack)
        env.update(recipes.unit_environment(
            unit, lambda p: p.replace("/etc/farmlokal/farmlokal.env", self.settings)))
        return env

    def admin_post(self, token=None):
        """The status of an (invalid) admin write: 404 without an admin token configured,
        401 with a wrong one, 400 once the token is right."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        r = self.stack.fcgi("/products", method="POST", body=b"{}", address=self.stack.path("main.sock"),
                            headers=headers)
        return r.status

    def test_master_reload_applies_an_edited_setting(self):
        with open(self.settings, "a") as f:
            f.write("FL_ADMIN_TOKEN=%s\n" % ADMIN_TOKEN)
        unit = os.path.join(UNITS, "farmlokal-master@.service")
        env = self.unit_env(unit)
        argv = recipes.unit_command(unit, "ExecStart", "main", env, self.mapping)
        proc = harness.Proc("unit", argv, self.stack.path("unit.log"), env=env)
        self.stack.procs["unit"] = proc
        sock = self.stack.path("main.sock")
        self.assertTrue(harness.poll(lambda: self.stack._app_answers(sock), timeout=20), harness.tail(proc.log))
        workers = harness.child_pids(proc.pid)
        self.assertEqual(len(workers), int(env["FL_WORKERS"]), workers)
        self.assertEqual(self.admin_post(NEW_TOKEN), 401)
        self.assertEqual(self.admin_post(ADMIN_TOKEN), 400)

        # The admin edits the token in the file, then `systemctl reload`.
        with open(self.settings) as f:
            text = f.read()
        with open(self.settings, "w") as f:
            f.write(text.replace(ADMIN_TOKEN, NEW_TOKEN))
        reload = recipes.unit_command(unit, "ExecReload", "main", env, self.mapping,
                                      extra={"MAINPID": str(proc.pid)})
        subprocess.run(reload, check=True, timeout=10)
        replaced = harness.poll(lambda: not set(workers) & set(harness.child_pids(proc.pid))
                                and len(harness.child_pids(proc.pid)) == len(workers), timeout=30)
        self.assertTrue(replaced, "the workers were not replaced:\n" + harness.tail(proc.log))
        self.assertEqual(self.admin_post(NEW_TOKEN), 400, "the edited token is not in effect")
        self.assertEqual(self.admin_post(ADMIN_TOKEN), 401)

    def test_socket_activated_pool_reads_the_settings_file(self):
        # StandardInput=socket: the socket on fd 0, as spawn-fcgi hands it over.
        unit = os.path.join(UNITS, "farmlokal@.service")
        with open(self.settings, "a") as f:
            f.write("FL_ADMIN_TOKEN=%s\n" % ADMIN_TOKEN)
        env = self.unit_env(unit)
        argv = recipes.unit_command(unit, "ExecStart", "main", env, self.mapping)
        self.assertEqual(os.path.basename(argv[0]), "multiwatch")
        sock = self.stack.path("main.sock")
        proc = harness.Proc("unit", ["spawn-fcgi", "-s", sock, "-M", "0660", "-n", "--"] + argv,
                            self.stack.path("unit.log"), env=env)
        self.stack.procs["unit"] = proc
        self.assertTrue(harness.poll(lambda: self.stack._app_answers(sock), timeout=20), harness.tail(proc.log))
        self.assertTrue(harness.poll(lambda: len(harness.child_pids(proc.pid)) == int(env["FL_WORKERS"]),
                                     timeout=20))
        self.assertEqual(self.admin_post(ADMIN_TOKEN), 400)
        self.assertEqual(self.admin_post(NEW_TOKEN), 401)
        health = self.stack.fcgi("/health", address=sock)
        self.assertEqual(health.status, 200, health)


if __name__ == "__main__":
    unittest.main()
