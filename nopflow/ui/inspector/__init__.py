"""The inspector dock: a form generated for whatever is selected (or the workflow)."""

from nopflow.ui.inspector.panel import Inspector

__all__ = ["Inspector"]
