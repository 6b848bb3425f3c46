# SPDX-License-Identifier: MIT
"""What an admin meets (issue #10): configuration mistakes named at once, exit statuses,
start failures that leave a line somewhere, --listen checked, every command's --help,
check-config --connect, the seeder's progress in a log, farmlokal_workers_alive."""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_integrations import Upstreams  # noqa: E402  (the mock OAuth provider)

EXAMPLE = os.path.join(harness.REPO_ROOT, "deploy", "farmlokal.env.example")
COMMANDS = ["migrate", "check-config", "check-data", "reindex", "seed", "webhook-register"]


class WithoutServers(unittest.TestCase):
    """The binaries against a configuration only: no server is needed or reached."""

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(mysql=False, redis=False, nginx=False)
        cls.addClassCleanup(cls.stack.close)
        cls.stack.start()

    def run_bin(self, name, *args, env=None, config=None, timeout=30.0, **kw):
        argv = [harness.Stack.app_binary(name)]
        if config is not None:
            path = self.stack.path("test.env")
            with open(path, "w") as f:
                f.write(config)
            argv += ["--config", path]
        return subprocess.run(argv + list(args), env=self.stack.app_env(env), cwd=self.stack.tmp,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, **kw)

    def test_a_typo_in_the_config_file_is_an_error_naming_the_key(self):
        for name in ("farmlokal-ctl", "farmlokal"):
            args = ("check-config",) if name == "farmlokal-ctl" else ()
            res = self.run_bin(name, *args, config="FL_CACHE_TLL=120\n")
            self.assertEqual(res.returncode, 2, res)
            self.assertIn("FL_CACHE_TLL is not a FarmLokal setting (did you mean FL_CACHE_TTL?)",
                          res.stderr)

    def test_an_unknown_variable_in_the_environment_is_a_warning(self):
        res = self.run_bin("farmlokal-ctl", "check-config",
                           env={"FL_RATE_LIMT": "5", "FL_LOCAL_HTTP_PORT": "8081", "FL_SEED_ROWS": "9"})
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("FL_RATE_LIMT is not a FarmLokal setting (did you mean FL_RATE_LIMIT?)",
                      res.stderr)
        # The deploy scripts' own variables are not warned about.
        self.assertNotIn("FL_LOCAL_HTTP_PORT", res.stderr)
        self.assertNotIn("FL_SEED_ROWS", res.stderr)

    def test_the_examples_placeholder_password_is_warned_about(self):
        with open(EXAMPLE) as f:
            example = f.read()
        res = self.run_bin("farmlokal-ctl", "check-config", config=example,
                           env={"FL_MYSQL_URL": None})
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("WARNING: FL_MYSQL_URL's password is still the example's placeholder CHANGE-ME",
                      res.stderr)
        self.assertNotIn("CHANGE-ME", res.stdout)

    def test_an_unencoded_at_in_a_password_is_an_error_with_a_hint(self):
        res = self.run_bin("farmlokal-ctl", "check-config",
                           env={"FL_MYSQL_URL": "mysql://farmlokal:p@ss@127.0.0.1:3306/farmlokal"})
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("FL_MYSQL_URL has a user or password with a reserved character", res.stderr)
        self.assertIn("'@' as %40", res.stderr)
        self.assertNotIn("p@ss", res.stderr)

    def test_every_number_is_validated_with_the_value_shown(self):
        for key, value, expect in (("FL_WORKERS", "four", "from 1 to 256"),
                                   ("FL_CACHE_TTL", "60s", "from 1 to 86400"),
                                   ("FL_LISTEN_BACKLOG", "0", "from 1 to 65535")):
            res = self.run_bin("farmlokal-ctl", "check-config", env={key: value})
            self.assertEqual(res.returncode, 2, res)
            self.assertIn('%s must be an integer %s, not "%s"' % (key, expect, value), res.stderr)

    def test_trusted_proxies_are_printed(self):
        res = self.run_bin("farmlokal-ctl", "check-config",
                           env={"FL_TRUSTED_PROXIES": "10.0.0.0/8, ::1"})
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("FL_TRUSTED_PROXIES=10.0.0.0/8,::1/128\n", res.stdout)

    def test_every_command_has_help_and_exits_0(self):
        for cmd in COMMANDS:
            res = self.run_bin("farmlokal-ctl", cmd, "--help",
                               env={"FL_CACHE_TTL": "broken"})  # help needs no configuration
            self.assertEqual(res.returncode, 0, (cmd, res))
            self.assertTrue(res.stdout.startswith("usage: farmlokal-ctl " + cmd), res.stdout)
        res = self.run_bin("farmlokal-ctl", "migrate", "--now")
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("usage: farmlokal-ctl migrate", res.stderr)

    def test_check_config_connect_names_what_failed_within_bounds(self):
        port = harness.free_port()  # nothing listens there
        env = {"FL_MYSQL_URL": "mysql://farmlokal@127.0.0.1:%d/farmlokal" % port,
               "FL_REDIS_URL": "redis://127.0.0.1:%d/0" % port,
               "FL_OAUTH_TOKEN_URL": "http://127.0.0.1:%d/token" % port,
               "FL_OAUTH_CLIENT_ID": "id", "FL_OAUTH_CLIENT_SECRET": "secret"}
        t = time.monotonic()
        res = self.run_bin("farmlokal-ctl", "check-config", "--connect", env=env)
        self.assertLess(time.monotonic() - t, 20)
        self.assertEqual(res.returncode, 1, res)
        for what in ("FL_MYSQL_URL (MySQL)", "FL_REDIS_URL (Redis)",
                     "FL_OAUTH_TOKEN_URL (OAuth token)"):
            self.assertIn("connect %s: FAILED" % what, res.stdout)
        self.assertNotIn("secret", res.stdout + res.stderr)

    def test_listen_port_out_of_range_is_a_usage_error(self):
        res = self.run_bin("farmlokal", "--listen", "127.0.0.1:99999", "--workers", "1")
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("port from 0 to 65535", res.stderr)

    def test_workers_without_listen_is_a_usage_error(self):
        env = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/health/live"}
        res = self.run_bin("farmlokal", "--workers", "3", env=env)
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("--workers needs --listen", res.stderr)
        self.assertNotIn("Status:", res.stdout)  # no CGI request was answered

    def test_port_0_logs_the_bound_port(self):
        log = self.stack.path("port0.log")
        proc = harness.Proc("port0", [harness.Stack.app_binary(), "--listen", "127.0.0.1:0",
                                      "--workers", "1"], log, env=self.stack.app_env())
        try:
            def bound():
                with open(log) as f:
                    m = re.search(r"event=master_started listen=127\.0\.0\.1:(\d+) ", f.read())
                return int(m.group(1)) if m else None
            port = harness.poll(bound, timeout=10)
            self.assertTrue(port, harness.tail(log))
            self.assertNotEqual(port, 0)
            # A whole FastCGI request: the workers serve on the port the line names.
            self.assertEqual(self.stack.fcgi("/health/live", address=("127.0.0.1", port)).status,
                             200)
        finally:
            self.assertEqual(proc.stop(8.0), 0)

    def test_sigterm_right_after_start_stops_at_once(self):
        """A worker signalled between its fork and its own handlers lost the SIGTERM and
        held the master for its 30 s drain timeout."""
        for attempt in range(3):
            log = self.stack.path("early-stop-%d.log" % attempt)
            proc = harness.Proc("early-stop", [harness.Stack.app_binary(), "--listen",
                                               "127.0.0.1:0", "--workers", "16"], log,
                                env=self.stack.app_env())
            try:
                def started():
                    with open(log) as f:
                        return "event=master_started" in f.read()
                self.assertTrue(harness.poll(started, timeout=10, interval=0.001))
                proc.send_signal(signal.SIGTERM)
                t = time.monotonic()
                proc.popen.wait(timeout=8)
                self.assertLess(time.monotonic() - t, 5)
            finally:
                self.assertEqual(proc.stop(1.0), 0, harness.tail(log))

    def test_a_start_failure_with_stderr_on_dev_null_reaches_the_log_file(self):
        """spawn-fcgi's workers have fd 1 and 2 on /dev/null: the reason must land somewhere."""
        log = self.stack.path("start-failure.log")
        with open(os.devnull, "w") as null:
            res = subprocess.run([harness.Stack.app_binary(), "--config", "/nonexistent/farmlokal.env"],
                                 env=self.stack.app_env({"FL_LOG_FILE": log}), stdin=subprocess.DEVNULL,
                                 stdout=null, stderr=null, timeout=30)
        self.assertEqual(res.returncode, 2)
        with open(log) as f:
            text = f.read()
        self.assertIn("level=error", text)
        self.assertIn("event=start_failed reason=\"configuration: cannot read /nonexistent/farmlokal.env",
                      text)

    def test_log_file_setting_receives_the_masters_lines(self):
        log = self.stack.path("master.log")
        proc = harness.Proc("logfile", [harness.Stack.app_binary(), "--listen", "127.0.0.1:0",
                                        "--workers", "1"], self.stack.path("master.stderr"),
                            env=self.stack.app_env({"FL_LOG_FILE": log}))
        try:
            def started():
                if not os.path.exists(log):
                    return False
                with open(log) as f:
                    return "event=master_started" in f.read()
            self.assertTrue(harness.poll(started, timeout=10))
            os.rename(log, log + ".1")
            proc.send_signal(signal.SIGUSR1)  # logrotate's postrotate
            self.assertTrue(harness.poll(lambda: os.path.exists(log), timeout=5))
        finally:
            self.assertEqual(proc.stop(8.0), 0)
        with open(log) as f:
            self.assertIn("event=master_stopping", f.read())


class WithServers(harness.StackTestCase):
    """MySQL and Redis up: what reaches them."""
    stack_options = {"nginx": False}
    app_workers = None

    def test_check_config_connect_reaches_mysql_and_redis(self):
        res = self.stack.ctl("check-config", "--connect")
        out = res.stdout.decode()
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("connect FL_MYSQL_URL (MySQL): ok", out)
        self.assertIn("connect FL_REDIS_URL (Redis): ok", out)

    def test_check_config_connect_reaches_the_oauth_token_url(self):
        mock = Upstreams(self.stack).start()
        self.addCleanup(mock.stop)
        env = {"FL_OAUTH_TOKEN_URL": mock.urls["oauth"] + "/token",
               "FL_OAUTH_CLIENT_ID": "farmlokal", "FL_OAUTH_CLIENT_SECRET": "s3cret"}
        res = self.stack.ctl("check-config", "--connect", env=env)
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("connect FL_OAUTH_TOKEN_URL (OAuth token): ok", res.stdout.decode())
        # Asked again even though a token is cached in Redis now: wrong credentials show.
        res = self.stack.ctl("check-config", "--connect",
                             env=dict(env, FL_OAUTH_CLIENT_SECRET="wrong"))
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("connect FL_OAUTH_TOKEN_URL (OAuth token): FAILED", res.stdout.decode())
        self.assertIn("connect FL_MYSQL_URL (MySQL): ok", res.stdout.decode())

    def test_seed_progress_is_one_line_per_report_in_a_log(self):
        self.stack.migrate()
        res = self.stack.ctl("seed", "--rows", "500", "--replace")
        err = res.stderr.decode()
        self.assertEqual(res.returncode, 0, err)
        self.assertNotIn("\r", err)
        self.assertRegex(err, r"(?m)^seed: generated 500/500 \(")

    def test_workers_alive_without_metrics_dir_counts_the_pool(self):
        self.stack.start_app(workers=4, env={"FL_METRICS_DIR": None})
        try:
            self.stack.wait_workers(4)

            def alive():
                r = self.stack.fcgi("/metrics")
                self.assertEqual(r.status, 200, r)
                return re.search(r"\nfarmlokal_workers_alive (\d+)\n", r.text).group(1)
            # A worker joins its pool's table a moment after its fork.
            harness.poll(lambda: alive() == "4", timeout=5)
            self.assertEqual(alive(), "4")
        finally:
            self.stack.stop_app()


if __name__ == "__main__":
    unittest.main()
