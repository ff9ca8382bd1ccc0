"""The project's own error types.

Every user mistake (bad file, bad expression, invalid graph, refused path) surfaces as a
subclass of `NopflowError`, so front ends can show its message instead of a traceback.
"""

from __future__ import annotations


class NopflowError(Exception):
    """Base class for errors that are the user's to fix; `str()` is the message to show."""


class WorkflowFileError(NopflowError):
    """A workflow file that cannot be read, parsed or validated.

    The message names the file and, where known, the line/column or JSON path and the node id.
    ``more`` are further problems of the same file (validation reports every problem at
    once); the message then has one line per problem.
    """

    def __init__(
        self,
        path: str | None,
        message: str,
        *,
        json_path: str | None = None,
        node_id: str | None = None,
        more: list[WorkflowFileError] | None = None,
    ) -> None:
        self.path = path
        self.json_path = json_path
        self.node_id = node_id
        self.detail = message
        self.problems: list[WorkflowFileError] = [self, *(more or [])]
        parts = [path or "<workflow>"]
        if json_path:
            parts.append(json_path)
        where = ": ".join(parts)
        node = f" (node {node_id})" if node_id else ""
        self.line = f"{where}{node}: {message}"
        super().__init__("\n".join(p.line for p in self.problems))
