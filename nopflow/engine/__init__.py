"""The engine: compile a workflow, run it on asyncio, report through events (no Qt, ever).

Typical use (CLI, tests and the GUI bridge alike)::

    run = Run(workflow, inputs={"n": 3}, project_dir=folder)   # compiles; CompileError
    run.events.subscribe(callback)          # before execute: every event, in order
    await run.execute()                     # -> run.state completed | failed | cancelled
    run.pause(); run.resume(); run.cancel() # any time, from the loop, idempotent
    run.nodes["calc"].state, run.outputs, run.result()

Public names are loaded lazily, so a block module importing `nopflow.engine.context` (the
block API) does not load the runner, the compiler and networkx with it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Run": "nopflow.engine.runner",
    "NodeState": "nopflow.engine.state",
    "RunState": "nopflow.engine.state",
    "NodeRecord": "nopflow.engine.state",
    "AttemptRecord": "nopflow.engine.state",
    "EventBus": "nopflow.engine.events",
    "NodeContext": "nopflow.engine.context",
    "NodeResult": "nopflow.engine.context",
    "NodeFailure": "nopflow.engine.context",
    "Executor": "nopflow.engine.executor",
    "ExecutorKind": "nopflow.engine.executor",
    "create_executor": "nopflow.engine.executor",
    "CompileError": "nopflow.engine.compiler",
    "Plan": "nopflow.engine.compiler",
    "compile_workflow": "nopflow.engine.compiler",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nopflow.engine' has no attribute {name!r}")
    return getattr(import_module(module), name)
