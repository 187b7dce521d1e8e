"""Uploading the workload from a few threads while the model changes mid-run: the pointer is
written to a model that cannot run at a third of the uploads, and tiny-v2 promoted at half."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from imgclf.deployment import Deployment
from imgclf.models import promote

from .model_versions import break_pointer
from .parameters import BROKEN_MODEL, BROKEN_SECONDS, SECOND_MODEL
from .queues import Backlog
from .workload import USER_TAGS, Event, History, Scenario, Step, content_bytes


class _Progress:
    """Uploads done, and the marks the model changes wait for."""

    def __init__(self, total_uploads: int) -> None:
        self.total_uploads = total_uploads
        self.done = 0
        self._lock = threading.Lock()
        self.third = threading.Event()
        self.half = threading.Event()
        self.promoted = threading.Event()  # tiny-v2 promoted (or given up): uploads go on
        self.stop = threading.Event()

    def count_upload(self) -> None:
        with self._lock:
            self.done += 1
            if self.done * 3 >= self.total_uploads:
                self.third.set()
            if self.done * 2 >= self.total_uploads:
                self.half.set()

    def release(self) -> None:
        """The uploads are over (or failed): nothing waits for a mark any more."""
        self.stop.set()
        self.third.set()
        self.half.set()


class _ModelChanges:
    """The promoter thread's work: the broken pointer at a third, tiny-v2 at half."""

    def __init__(
        self, deployment: Deployment, progress: _Progress, say: Callable[[str], None]
    ) -> None:
        self.deployment, self.progress, self.say = deployment, progress, say
        self.promoted_after: int | None = None  # uploads done when tiny-v2 was promoted
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            self._change()
        finally:
            self.progress.promoted.set()

    def _change(self) -> None:
        progress = self.progress
        progress.third.wait()
        if progress.stop.is_set():
            return
        _retried(lambda: break_pointer(self.deployment), self.errors)
        broken_at = time.monotonic()
        self.say(
            f"  pointer written to {BROKEN_MODEL} (a model that cannot run) "
            f"after {progress.done} uploads"
        )
        progress.half.wait()
        if progress.stop.is_set():
            return
        # Uploads pause at half while the broken pointer stands for a few of the function's
        # refreshes, so that warm functions meet it (and count ModelLoadFailed) on the
        # backlog before tiny-v2 replaces it, mid-run.
        time.sleep(max(0.0, broken_at + BROKEN_SECONDS - time.monotonic()))
        self._promote()

    def _promote(self) -> None:
        for attempt in range(5):
            try:
                promote(self.deployment, SECOND_MODEL)
                self.promoted_after = self.progress.done
                self.say(f"  promoted {SECOND_MODEL} after {self.progress.done} uploads")
                return
            except Exception as error:  # a fault aimed at the pointer; try again
                if attempt == 4:
                    self.errors.append(error)
                time.sleep(0.5)


class _Uploader:
    """Runs one scenario's steps; a racing step goes to another thread right after the first."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        history: History,
        backlog: Backlog,
        progress: _Progress,
        racer: ThreadPoolExecutor,
    ) -> None:
        self.s3, self.bucket, self.history = s3, bucket, history
        self.backlog, self.progress, self.racer = backlog, progress, racer
        self.tagging = urlencode(USER_TAGS)

    def run(self, scenario: Scenario) -> None:
        for step in scenario.steps:
            if step.other_thread:
                self.racer.submit(self.apply, scenario.key, step).result()
            else:
                self.apply(scenario.key, step)

    def apply(self, key: str, step: Step) -> None:
        if not step.other_thread:  # a racing step follows its first step at once
            self.backlog.wait()
            if self.progress.half.is_set():
                self.progress.promoted.wait()  # the broken pointer's window: _ModelChanges
        if step.op == "delete":
            self._delete(key)
        else:
            self._put(key, step)

    def _delete(self, key: str) -> None:
        thread = threading.current_thread().name
        response = self.s3.delete_object(Bucket=self.bucket, Key=key)
        self.history.add(
            key,
            Event(self.history.now(), "delete", None, thread, None, response.get("VersionId")),
        )

    def _put(self, key: str, step: Step) -> None:
        extra = {"Tagging": self.tagging} if step.tagged else {}
        response = self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=content_bytes(step),
            ContentType="image/jpeg",
            **extra,
        )
        event = Event(
            self.history.now(),
            "put+tags" if step.tagged else "put",
            step.content,
            threading.current_thread().name,
            str(response.get("ETag", "")).strip('"'),
            response.get("VersionId"),
        )
        self.history.add(key, event)
        self.progress.count_upload()


def upload_all(
    s3: Any,
    deployment: Deployment,
    scenarios: list[Scenario],
    history: History,
    threads: int,
    total_uploads: int,
    say: Callable[[str], None],
    backlog: Backlog,
) -> int | None:
    """Run every scenario from `threads` threads; write the pointer to BROKEN_MODEL when a
    third are uploaded, and promote tiny-v2 (through promotion's checks) at half.

    Returns how many uploads were done when the promotion happened (None: it did not)."""
    progress = _Progress(total_uploads)
    changes = _ModelChanges(deployment, progress, say)
    racer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="soak-racer")
    uploader = _Uploader(s3, deployment.images_bucket, history, backlog, progress, racer)
    promoting = threading.Thread(target=changes.run, name="soak-promoter", daemon=True)
    promoting.start()
    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="soak-upload") as pool:
            for future in [pool.submit(uploader.run, scenario) for scenario in scenarios]:
                future.result()
    finally:
        progress.release()
        promoting.join()
        progress.promoted.set()
        racer.shutdown()
    if changes.errors:
        raise changes.errors[0]
    return changes.promoted_after


def _retried(action: Callable[[], None], errors: list[BaseException]) -> None:
    """Run `action`, again after a fault aimed at it (up to 5 times); the last error is kept."""
    for attempt in range(5):
        try:
            action()
            return
        except Exception as error:  # a fault aimed at SSM; try again
            if attempt == 4:
                errors.append(error)
            time.sleep(0.5)
