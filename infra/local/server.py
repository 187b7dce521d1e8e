"""A moto server on loopback: the AWS endpoint of the embedded environment."""

from __future__ import annotations

import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

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
    """moto's ThreadedMotoServer on 127.0.0.1 and a free port, quiet, with a known endpoint."""

    def __init__(self, *, port: int | None = None, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server: object | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        # Imported here so that importing the CLI stays fast.
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request at INFO; the environment prints its own summary.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self._server = server
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not is_answering(self.endpoint_url):
            if time.monotonic() > deadline:
                self.stop()
                raise LocalServerError(f"moto server did not answer at {self.endpoint_url}")
            time.sleep(0.05)
        # moto keeps its backends in process globals: start from nothing, as a new stack does.
        self.reset()
        return self

    def reset(self) -> None:
        """Drop every resource moto holds (its state is per process, not per server)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            try:
                self.reset()
            except (urllib.error.URLError, OSError):
                pass
            server.stop()  # type: ignore[attr-defined]

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
