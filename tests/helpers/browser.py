"""A headless Chromium driven over the DevTools protocol, for tests of the serving page.

Just enough of the protocol (https://chromedevtools.github.io/devtools-protocol/)
to load a page, type, press keys, click, read the DOM, intercept requests and
take a screenshot, over the ``websocket-client`` package. Every console error,
uncaught exception and browser log error is collected in ``errors``.

Debian's ``chromium`` must be installed (``.ci/install_chromium.sh``); without it
``Browser()`` fails with that instruction rather than skipping.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest
import websocket

INSTALL_HINT = (
    "the page tests need Debian's chromium: run `.ci/install_chromium.sh` (apt-get install -y chromium)"
)


class Browser:
    """One headless Chromium with one page.

    Example:
        >>> with Browser() as browser:
        ...     browser.open("http://127.0.0.1:8501/", ready="document.body.dataset.ready")
        ...     browser.evaluate("document.title")
    """

    def __init__(self, width=1000, height=1000, timeout=60.0):
        executable = shutil.which("chromium") or shutil.which("chromium-browser")
        if executable is None:
            pytest.fail(INSTALL_HINT, pytrace=False)
        self.timeout = timeout
        self.errors: list[str] = []
        self._handlers = {}
        self._ids = itertools.count(1)
        self._profile = tempfile.mkdtemp(prefix="serve_chromium_")
        flags = [
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--metrics-recording-only",
            "--mute-audio",
            f"--user-data-dir={self._profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--window-size={width},{height}",
        ]
        if os.geteuid() == 0:  # Chromium refuses to run as root inside its sandbox
            flags.append("--no-sandbox")
        self._process = subprocess.Popen(
            [executable, *flags, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            port = self._debugging_port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                page = next(t for t in json.load(response) if t["type"] == "page")
            self._socket = websocket.create_connection(
                page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True
            )
        except BaseException:
            self.close()
            raise
        self.on("Runtime.consoleAPICalled", self._console)
        self.on("Runtime.exceptionThrown", self._exception)
        self.on("Log.entryAdded", self._log)
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    def _debugging_port(self) -> int:
        path = pathlib.Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self._process.returncode}")
            if path.is_file() and path.read_text().strip():
                return int(path.read_text().split()[0])
            time.sleep(0.1)
        raise TimeoutError("chromium did not open its debugging port")

    # -- the protocol --

    def on(self, method: str, handler) -> None:
        """Call ``handler(params)`` for every event ``method`` that arrives while we wait."""
        self._handlers[method] = handler

    def call(self, method: str, **params):
        """Send one command and return its result; events that arrive meanwhile go to their handlers."""
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self._socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message and message["method"] in self._handlers:
                self._handlers[message["method"]](message.get("params", {}))
        raise TimeoutError(f"{method} got no answer")

    def send(self, method: str, **params) -> None:
        """Send a command without waiting for its answer (safe inside an event handler)."""
        self._socket.send(json.dumps({"id": next(self._ids), "method": method, "params": params}))

    def _console(self, params):
        if params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.errors.append(f"console.{params['type']}: {text}")

    def _exception(self, params):
        details = params.get("exceptionDetails", {})
        self.errors.append(
            f"exception: {details.get('exception', {}).get('description') or details.get('text')}"
        )

    def _log(self, params):
        entry = params.get("entry", {})
        if entry.get("level") == "error":
            self.errors.append(
                f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip()
            )

    # -- what a test does with a page --

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} raised {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float | None = None):
        """Evaluate ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"{expression!r} did not become true; errors: {self.errors}")

    def open(self, url: str, ready: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for(f"document.readyState === 'complete' && ({ready})")

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if mobile else 1,
            mobile=mobile,
        )

    def type_text(self, selector: str, text: str) -> None:
        """Focus ``selector`` and type ``text`` as the keyboard would (input events included)."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def press(self, key: str, code: int) -> None:
        """Press and release one key, e.g. ``press("Enter", 13)``."""
        common = {"key": key, "code": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}
        self.call("Input.dispatchKeyEvent", type="keyDown", text="\r" if key == "Enter" else "", **common)
        self.call("Input.dispatchKeyEvent", type="keyUp", **common)

    def click(self, selector: str) -> None:
        """Move the mouse onto the middle of ``selector`` and click it."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = box
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def move_mouse(self, x: float, y: float) -> None:
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def intercept(self, url_pattern: str, respond) -> None:
        """Answer requests matching ``url_pattern`` with ``respond(url) -> (status, body bytes)``."""

        def paused(params):
            status, body = respond(params["request"]["url"])
            self.send(
                "Fetch.fulfillRequest",
                requestId=params["requestId"],
                responseCode=status,
                responseHeaders=[{"name": "Content-Type", "value": "application/json"}],
                body=base64.b64encode(body).decode("ascii"),
            )

        self.on("Fetch.requestPaused", paused)
        self.call("Fetch.enable", patterns=[{"urlPattern": url_pattern, "requestStage": "Request"}])

    def screenshot(self, path) -> None:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        pathlib.Path(path).write_bytes(base64.b64decode(data))

    def close(self) -> None:
        if getattr(self, "_socket", None) is not None:
            self._socket.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
