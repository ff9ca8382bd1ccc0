"""The ``dask`` executor: script blocks run in the sandbox of a Dask cluster's workers.

Only *where* a script runs changes; the runner keeps scheduling, states, events, error
modes and retries. ``client`` ships and follows scripts, ``wire`` is the message format,
``worker`` is the service inside each worker process. Importing this package does not
import ``distributed`` (the ``dask`` extra); connecting does.
"""

from __future__ import annotations

from nopflow.executors.dask.client import EXTRA_MESSAGE, DaskExecutor, DaskScriptHandle
from nopflow.model import ExecutorSettings


def create(settings: ExecutorSettings) -> DaskExecutor:
    """Registry factory for ``{"kind": "dask", "address": …}`` (no address: a LocalCluster)."""
    return DaskExecutor(settings.address)


__all__ = ["EXTRA_MESSAGE", "DaskExecutor", "DaskScriptHandle", "create"]
