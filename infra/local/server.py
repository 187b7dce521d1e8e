"""A moto server on loopback: the AWS endpoint of the embedded environment."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import ClassVar

from infra.local.patches import Patches

LOOPBACK = "127.0.0.1"
LOCAL_REGION = "us-east-1"
# moto accepts any credentials; these keep boto3 from looking for real ones.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
STARTUP_TIMEOUT_SECONDS = 15.0


class LocalServerError(RuntimeError):
    """The moto server did not start or stopped answering."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def is_answering(endpoint_url: str, timeout_seconds: float = 1.0) -> bool:
    """Whether something accepts connections at this endpoint (cheap: no request is made)."""
    parsed = urllib.parse.urlparse(endpoint_url)
    if not parsed.hostname or not parsed.port:
        return False
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout_seconds):
            return True
    except OSError:
        return False


class MotoServer:
    """moto on 127.0.0.1 and a free port, quiet, with a known endpoint.

    By default moto's ThreadedMotoServer, in this process, patched to answer as AWS does
    (moto_fidelity.py, s3_encryption.py) from start() to stop() only. `separate_process=True`
    runs `python -m moto.server` instead, so that moto and the handler do not share one GIL
    (faster on several cores; see bench/local_pipeline.py).
    """

    # moto's backends are process globals: a second in-process server would share the first's
    # resources, and its start-up reset would delete them under the first's poller.
    _in_process: ClassVar[MotoServer | None] = None
    _in_process_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self, *, port: int | None = None, host: str = LOOPBACK, separate_process: bool = False
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.separate_process = separate_process
        self._server: object | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._patches = Patches()  # undone at stop(): nothing outlives this server

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        # Imported here so that importing the CLI stays fast.
        from moto.server import ThreadedMotoServer

        from . import moto_fidelity, s3_encryption

        if not self.separate_process:
            self._claim_process()
        try:
            if self.separate_process:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            else:
                # werkzeug logs every request at INFO; the environment prints its own summary.
                self._patches.set_level("werkzeug", logging.ERROR)
                s3_encryption.install(self._patches)  # GET/HEAD of SSE-C objects need the key
                moto_fidelity.install(self._patches)
                server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
                server.start()
                self._server = server
            deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
            while not is_answering(self.endpoint_url):
                if time.monotonic() > deadline:
                    raise LocalServerError(f"moto server did not answer at {self.endpoint_url}")
                time.sleep(0.05)
            # moto keeps its backends in process globals: start from nothing, as a new stack does.
            self.reset()
        except BaseException:
            self.stop()  # also gives up this process's claim, so a later start can succeed
            raise
        return self

    def reset(self) -> None:
        """Drop every resource moto holds (its state is per process, not per server)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        server, self._server = self._server, None
        process, self._process = self._process, None
        if server is not None:
            try:
                self.reset()
            except (urllib.error.URLError, OSError):
                pass
            server.stop()  # type: ignore[attr-defined]
        self._patches.undo()
        with MotoServer._in_process_lock:
            if MotoServer._in_process is self:
                MotoServer._in_process = None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _claim_process(self) -> None:
        with MotoServer._in_process_lock:
            running = MotoServer._in_process
            if running is not None and running is not self:
                raise LocalServerError(
                    f"a local environment already runs in this process (moto at "
                    f"{running.endpoint_url}); stop it first"
                )
            MotoServer._in_process = self

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
