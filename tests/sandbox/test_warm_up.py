"""LocalExecutor starts the sandbox's zygote in the background when it is created."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from nopflow.engine.executor import ScriptRequest
from nopflow.executors.local import LocalExecutor

pytestmark = pytest.mark.skipif(os.name != "posix", reason="zygote backend")


def request(project: Path) -> ScriptRequest:
    return ScriptRequest(
        project_dir=project,
        code="print(7)",
        script=None,
        input={},
        timeout_s=10,
        memory_mb=512,
        python=None,
    )


async def test_executor_created_on_a_loop_warms_the_zygote(tmp_path: Path) -> None:
    ex = LocalExecutor()
    assert ex._warming is not None
    await asyncio.wait_for(asyncio.shield(ex._warming), 30)
    pid = ex._runner.zygote_pid
    assert pid is not None
    try:
        handle = await ex.start_script(request(tmp_path), lambda _line: None)
        result = await asyncio.wait_for(handle.wait(), 30)
        assert result.ok and result.output == 7
        assert ex._runner.zygote_pid == pid  # the warm zygote ran it, none was started
    finally:
        await asyncio.wait_for(ex.aclose(), 10)
    with pytest.raises(ProcessLookupError):
        for _ in range(200):
            os.kill(pid, 0)
            await asyncio.sleep(0.01)


async def test_aclose_before_the_warm_up_ran_starts_nothing() -> None:
    ex = LocalExecutor()
    await asyncio.wait_for(ex.aclose(), 10)  # the warm-up task never got to run
    assert ex._runner is None


def test_executor_created_without_a_loop_does_not_warm() -> None:
    ex = LocalExecutor()
    assert ex._warming is None and ex._runner is None
