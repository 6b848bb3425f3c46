#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Docker files, checked without a Docker engine (none runs on these machines):
docker-compose.yml must resolve with docker-compose (Debian's package), every file it and
the Dockerfile name must exist, and the image must install its packages with
deploy/install-deps, the same script tests/run and deploy/local/up use."""
import os
import re
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPOSE = os.path.join(ROOT, "docker-compose.yml")
DOCKERFILE = os.path.join(ROOT, "deploy", "docker", "Dockerfile")


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


if __name__ == "__main__":
    unittest.main()
