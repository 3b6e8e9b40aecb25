"""``python -m tf_transformer serve`` in a subprocess, the way a user starts it, for tests.

``ServerProcess(export_base, workdir)`` starts it on a free port of 127.0.0.1 and waits for its
start-up line; ``predict``/``request``/``metrics`` talk to it; ``stop`` sends SIGTERM.
"""

import http.client
import json
import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

STARTUP_TIMEOUT = 300  # two TensorFlow imports and a SavedModel load, on a busy machine

# Runs in every process this module starts (it is on their PYTHONPATH): at a clean exit the server
# writes the names of the modules it imported, so the test can check what it did not import.
SITECUSTOMIZE = textwrap.dedent("""
    import atexit, os, sys
    if os.environ.get("SERVE_TEST_MODULES"):
        def _write_modules():
            with open(os.environ["SERVE_TEST_MODULES"], "w") as f:
                f.write("\\n".join(sorted(sys.modules)))
        atexit.register(_write_modules)  # `serve` replaces its process (execv): only the server's runs
""")


class ServerProcess:
    """``python -m tf_transformer serve`` on a free port; ``url`` once it says it is ready."""

    def __init__(self, export, workdir: pathlib.Path, *flags):
        self.model = pathlib.Path(export).name  # TensorFlow Serving's model: the base folder's name
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.modules_file = workdir / "modules.txt"
        self.modules_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(PYTHONPATH=str(workdir), SERVE_TEST_MODULES=str(self.modules_file))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tf_transformer", "serve", "--export", str(export), "--port", "0", *flags],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout, self.stderr, self.banner = queue.Queue(), [], []
        threading.Thread(target=self._read, args=(self.process.stdout, self.stdout.put), daemon=True).start()
        threading.Thread(
            target=self._read, args=(self.process.stderr, self.stderr.append), daemon=True
        ).start()
        self.url = self._wait_ready()
        self.port = int(self.url.rsplit(":", 1)[1].strip("/"))

    @staticmethod
    def _read(stream, put):
        for line in stream:
            put(line)

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.stdout.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.banner.append(line)
            if match := re.search(r"page:\s+(http://127\.0\.0\.1:\d+)/", line):
                return match.group(1)
        self.process.kill()
        raise AssertionError(f"the server did not start: {''.join(self.stderr)[-3000:]}")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout=120) -> int:
        if self.running():
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def request(self, method, path, body=None, headers=None, timeout=120):
        """One request on a fresh connection -> ``(status, parsed JSON or text)``."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read().decode("utf-8")
            kind = response.getheader("Content-Type", "")
            return response.status, json.loads(data) if kind.startswith("application/json") else data
        finally:
            connection.close()

    def predict(self, body, path=None):
        return self.request("POST", path or f"/v1/models/{self.model}:predict", body)

    def metrics(self) -> dict[str, float]:
        from tf_transformer.serving import server as serving

        _, text = self.request("GET", serving.METRICS_PATH)
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }
