"""One running script: its pipes, output bounds, stderr tail, pause-aware timeout clock,
kill escalation and supervision until a `ScriptResult` exists.

Backend-independent: the zygote client and the pool both hand it a pid, the job's fds
and an exit source; turning the outcome into a message is `messages.build_result`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from nopflow.sandbox import bootstrap
from nopflow.sandbox.fdio import ReaderFactory, _FdReader
from nopflow.sandbox.messages import build_result
from nopflow.sandbox.procs import _Exit, _GroupControl, _JobControl
from nopflow.sandbox.spec import ScriptResult, ScriptSpec

if TYPE_CHECKING:
    from nopflow.sandbox.runner import ScriptRunner

__all__ = ["ScriptHandle"]

KILL_GRACE_S = 0.5
DRAIN_GRACE_S = 2.0
MAX_STDERR_LINE = 8192


class _Job(NamedTuple):
    """A validated job, as every backend gets it: what to run, and where its ends go."""

    spec: ScriptSpec
    config: bytes  # the child's job config, one JSON line
    stdin_data: bytes
    temp: Path
    remove_temp: bool
    on_stderr_line: Callable[[str], None] | None


class ScriptHandle:
    """One running script: stream its output, enforce limits, pause/resume/cancel it."""

    def __init__(
        self,
        runner: ScriptRunner,
        job: _Job,
        pid: int,
        *,
        stdout_r: int,
        stderr_r: int,
        ctl_fd: int,
        writers: tuple[Any, Any],  # (config, stdin): fdio._FdWriter or threadio._ThreadWriter
        exit_source: asyncio.Future[_Exit] | asyncio.Future[int],  # kernel's word only
        started: float,
        on_exit: Callable[[], None] | None = None,
        control: _JobControl | None = None,
        reader: ReaderFactory = _FdReader,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.runner = runner
        self.spec = spec = job.spec
        self.pid = pid
        # how the job is stopped/continued/killed: its POSIX process group, or (Windows)
        # its Job Object
        self._control: _JobControl = control if control is not None else _GroupControl(pid)
        self._temp_dir = job.temp
        self._remove_temp = job.remove_temp
        self._on_stderr_line = job.on_stderr_line
        self._started = started
        self._on_exit = on_exit
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._exited = False
        self._exit: _Exit | None = None
        self._reason: str | None = None  # "timeout" | "cancelled" | "overflow"
        self._stdout = bytearray()
        self._stdout_len = 0
        self._stderr_tail: deque[str] = deque(maxlen=max(1, spec.stderr_tail_lines))
        self._stderr_partial = bytearray()
        self._stderr_partial_dropped = 0
        self._ctl_buf = bytearray()
        self._reports: list[dict[str, Any]] = []
        self._violation: str | None = None
        self._ctl_fd = ctl_fd
        self._cfg_writer, self._stdin_writer = writers
        self._readers = [
            reader(self.loop, stdout_r, self._on_stdout),
            reader(self.loop, stderr_r, self._on_stderr),
            reader(self.loop, self._ctl_fd, self._on_ctl),
        ]
        self._exit_source = exit_source
        self._escalation: asyncio.TimerHandle | None = None
        self._timeout: asyncio.TimerHandle | None = None
        self._arm_timeout()
        self._done: asyncio.Future[ScriptResult] = self.loop.create_future()
        self._task = self.loop.create_task(self._supervise())

    # ---- output handling
    def _on_stdout(self, data: bytes) -> None:
        self._stdout_len += len(data)
        if self._stdout_len > self.spec.max_stdout_bytes:
            if self._reason is None:
                self._kill("overflow", hard=True)
            return
        self._stdout += data

    def _emit_line(self, raw: bytes) -> None:
        if len(raw) > MAX_STDERR_LINE:  # very long line: keep its head only
            self._stderr_partial_dropped += len(raw) - MAX_STDERR_LINE
            raw = raw[:MAX_STDERR_LINE]
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if self._stderr_partial_dropped:
            line += f" … [{self._stderr_partial_dropped} more bytes]"
            self._stderr_partial_dropped = 0
        if line.startswith(bootstrap.STDERR_MARKER + bootstrap.VIOLATION_PREFIX):
            if self._violation is None:
                self._violation = line[len(bootstrap.STDERR_MARKER) :]
        self._stderr_tail.append(line)
        if self._on_stderr_line is not None:
            try:
                self._on_stderr_line(line)
            except Exception:
                pass

    def _on_stderr(self, data: bytes) -> None:
        """Split into lines (linear time, whatever the chunking); keep partial lines short."""
        partial = self._stderr_partial
        if b"\n" in data:
            parts = data.split(b"\n")
            partial += parts[0]
            self._emit_line(bytes(partial))
            partial.clear()
            for line in parts[1:-1]:
                self._emit_line(line)
            data = parts[-1]
        room = MAX_STDERR_LINE - len(partial)
        if len(data) > room:  # very long line: keep its head only
            self._stderr_partial_dropped += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        partial += data

    def _on_ctl(self, data: bytes) -> None:
        self._ctl_buf += data
        if len(self._ctl_buf) > 8 * 2**20:
            self._ctl_buf.clear()
            return
        while True:
            nl = self._ctl_buf.find(b"\n")
            if nl < 0:
                break
            raw = bytes(self._ctl_buf[:nl])
            del self._ctl_buf[: nl + 1]
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict):
                # The child's own reports only add detail (traceback, violation path).
                # How it exited comes from the kernel (the zygote's waitpid status or our
                # own wait): user code can write forged lines here.
                if obj.get("t") == "exit":
                    continue
                if len(self._reports) < 100:
                    self._reports.append(obj)
                if obj.get("t") == "violation" and self._violation is None:
                    self._violation = bootstrap.VIOLATION_PREFIX + str(obj.get("path"))

    # ---- clock
    def _active_elapsed(self, now: float | None = None) -> float:
        now = self.loop.time() if now is None else now
        paused = self._paused_total
        if self._paused_at is not None:
            paused += now - self._paused_at
        return now - self._started - paused

    def _arm_timeout(self) -> None:
        """(Re)start the timeout timer for the active time left; the clock stands still
        while paused (pause disarms it, resume re-arms it).  A timer, not a task: no
        task per script on the hot path."""
        if self._timeout is not None:
            self._timeout.cancel()
            self._timeout = None
        if self._exited or self._paused_at is not None:
            return
        remaining = self.spec.timeout_s - self._active_elapsed()
        if remaining <= 0:
            self._kill("timeout")
            return
        self._timeout = self.loop.call_later(remaining, self._arm_timeout)

    # ---- control
    def _control_op(self, op: Callable[[], None]) -> None:
        if not self._exited:
            op()

    def _kill(self, reason: str, *, hard: bool = False) -> None:
        if self._exited:
            return
        if self._reason is None:
            self._reason = reason
        if hard:
            self._control_op(self._control.kill)
            return
        self._control_op(self._control.terminate)
        if self._escalation is None:
            self._escalation = self.loop.call_later(
                KILL_GRACE_S, self._control_op, self._control.kill
            )

    def pause(self) -> None:
        """Stop the script (POSIX: SIGSTOP to its group; Windows: suspend the job's
        processes, best effort); its timeout clock stops too."""
        if self._exited or self._paused_at is not None:
            return
        self._control_op(self._control.suspend)
        self._paused_at = self.loop.time()
        self._arm_timeout()  # disarms it

    def resume(self) -> None:
        """Continue a paused script (SIGCONT / resume); the timeout clock runs again."""
        if self._paused_at is None:
            return
        self._paused_total += self.loop.time() - self._paused_at
        self._paused_at = None
        self._control_op(self._control.resume)
        self._arm_timeout()

    async def cancel(self) -> None:
        """TERM the process group, KILL after a short grace (Windows: terminate the Job
        Object at once); the result says "cancelled"."""
        if not self._exited:
            if self._paused_at is not None:
                self.resume()
            self._kill("cancelled")
        await asyncio.shield(self._done)

    async def wait(self) -> ScriptResult:
        """Wait for the script to finish and return its result."""
        return await asyncio.shield(self._done)

    @property
    def done(self) -> bool:
        return self._done.done()

    # ---- supervision
    async def _supervise(self) -> None:
        try:
            src = self._exit_source
            try:
                exit_ = await asyncio.shield(src)
                if isinstance(exit_, int):
                    exit_ = _Exit.from_returncode(exit_)
            except asyncio.CancelledError:
                raise
            except Exception:
                exit_ = _Exit(None, None)
            end = self.loop.time()
            self._exit = exit_
            if self._on_exit is not None:
                self._on_exit()
            self._exited = True
            if self._escalation is not None:
                self._escalation.cancel()
            self._stdin_writer.close()
            self._cfg_writer.close()
            _done, _pending = await asyncio.wait(
                [r.done for r in self._readers], timeout=DRAIN_GRACE_S
            )
            for r in self._readers:
                r.close()
            if self._stderr_partial:
                self._emit_line(bytes(self._stderr_partial))
                self._stderr_partial.clear()
            result = await build_result(
                self.spec,
                exit_,
                self._active_elapsed(end),
                reason=self._reason,
                violation=self._violation,
                reports=self._reports,
                stderr_tail=self._stderr_tail,
                stdout=self._stdout,
                cpu_s=self.runner._cpu_limit(self.spec),
                loop=self.loop,
            )
        except BaseException as exc:  # never leave waiters hanging
            if not self._exited:  # e.g. the loop is shutting down: the script must die too
                self._control.kill()
                self._exited = True
            for r in self._readers:
                r.close()
            self._stdin_writer.close()
            self._cfg_writer.close()
            if not self._done.done():
                self._done.set_result(
                    ScriptResult(
                        False,
                        None,
                        f"sandbox failure: {exc!r}",
                        "SandboxError",
                        None,
                        "",
                        None,
                        0.0,
                    )
                )
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        finally:
            if self._timeout is not None:
                self._timeout.cancel()
            self.runner._forget(self)
            if self._remove_temp:
                try:
                    os.rmdir(self._temp_dir)  # the common, empty case: one syscall
                except OSError:
                    self.loop.run_in_executor(None, shutil.rmtree, self._temp_dir, True)
        if not self._done.done():
            self._done.set_result(result)

    def _force_kill_sync(self) -> None:
        self._control_op(self._control.kill)
