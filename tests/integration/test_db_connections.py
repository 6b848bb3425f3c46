#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The MySQL connections of a pool stay under the server's max_connections by construction
(issue #15): the master reads max_connections and refuses to start a pool that could use
them up, (workers + 1) x 2 + 10 (app/master.c: a connection per worker and one it closed
after a timeout, one worker more during a rolling restart, room for farmlokal-ctl), and
warns when a SIGHUP finds the server lowered. Before, any pool size started, and a search
attack filled max_connections so that /health answered "Too many connections".
"""
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import poll  # noqa: E402

MAX_CONNECTIONS = 20  # fits 4 workers: (4 + 1) * 2 + 10


class DbConnectionsTest(harness.StackTestCase):
    stack_options = {"nginx": False,
                     "mysql_args": ["--max-connections=%d" % MAX_CONNECTIONS]}
    app_workers = None  # each test starts the pool it needs

    def tearDown(self):
        self.stack.stop_app()
        self.stack.sql("SET GLOBAL max_connections = %d" % MAX_CONNECTIONS)

    def test_a_pool_too_large_for_max_connections_is_refused(self):
        s = self.stack
        s.migrate()
        sock = s.path("big.sock")
        res = subprocess.run([s.app_binary(), "--listen", "unix:" + sock, "--workers", "5"],
                             env=s.app_env(), cwd=s.tmp, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=30)
        err = res.stderr.decode("utf-8", "replace")
        self.assertEqual(res.returncode, 2, err)
        self.assertIn("event=db_connections_exceeded server=primary workers=5 needed=22 "
                      "max_connections=20", err)
        self.assertFalse(os.path.exists(sock), "nothing is started")

    def test_a_pool_that_fits_starts_and_a_lowered_server_is_reported_on_sighup(self):
        s = self.stack
        config = s.path("farmlokal.env")
        with open(config, "w") as f:
            f.write("FL_LOG_LEVEL=info\n")
        s.start_app(workers=4, extra_args=("--config", config))
        old = s.wait_workers(4)
        self.assertEqual(len(old), 4)
        with open(s.path("app.log"), "rb") as f:
            f.seek(0, os.SEEK_END)
            s.sql("SET GLOBAL max_connections = %d" % (MAX_CONNECTIONS - 1))
            os.kill(s.app_pid, signal.SIGHUP)
            logged = []
            self.assertTrue(poll(lambda: logged.append(f.read()) or
                                 b"event=db_connections_exceeded" in b"".join(logged),
                                 timeout=10), b"".join(logged))
        self.assertIn(b"needed=20 max_connections=19", b"".join(logged))
        self.assertTrue(s.app_running(), "a running pool is not stopped")
        self.assertEqual(len(s.wait_workers(4, exclude=old, timeout=30)), 4, "it was replaced")


if __name__ == "__main__":
    unittest.main()
