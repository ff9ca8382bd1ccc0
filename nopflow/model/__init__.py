"""The workflow document model and its file format (no Qt, no asyncio)."""

from nopflow.model.fileio import (
    SUFFIX,
    atomic_write_text,
    dump_workflow,
    load_workflow,
    parse_workflow,
    save_workflow,
    workflow_from_document,
)
from nopflow.model.workflow import (
    FORMAT,
    FORMAT_VERSION,
    Edge,
    ErrorMode,
    ExecutorSettings,
    InputSpec,
    Node,
    Note,
    RetryPolicy,
    Settings,
    Workflow,
    is_valid_node_id,
    new_id,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SUFFIX",
    "Edge",
    "ErrorMode",
    "ExecutorSettings",
    "InputSpec",
    "Node",
    "Note",
    "RetryPolicy",
    "Settings",
    "Workflow",
    "atomic_write_text",
    "dump_workflow",
    "is_valid_node_id",
    "load_workflow",
    "new_id",
    "parse_workflow",
    "save_workflow",
    "workflow_from_document",
]
