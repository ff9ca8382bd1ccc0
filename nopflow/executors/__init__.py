"""Where script work runs: the implementations behind the engine's executor interface.

``create(settings.executor)`` is the one construction path (CLI, editor, and the runner
when it is given none); ``kinds()`` lists what the editor and CLI may offer. ``local``
runs sandboxed children here, ``dask`` runs the same sandbox on a cluster's workers
(``nopflow[dask]``). How to add one: docs/executors.md.
"""

from __future__ import annotations

from nopflow.engine.executor import (
    Executor,
    ExecutorKind,
    UnavailableExecutor,
    executor_kind,
    executor_kinds,
    register_executor,
)
from nopflow.engine.executor import create_executor as create

kinds = executor_kinds
kind = executor_kind

__all__ = ["Executor", "ExecutorKind", "UnavailableExecutor", "create", "kind", "kinds",
           "register_executor"]
