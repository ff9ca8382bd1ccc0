"""`python`: a Python script run in a sandboxed child process (DESIGN.md §6)."""

from __future__ import annotations

import os
from typing import Any

from nopflow.blocks.base import Block, BlockConfig, CheckContext, Port
from nopflow.blocks.configs import PythonConfig
from nopflow.blocks.registry import register

DEFAULT_CODE = (
    "import json, sys\n"
    "\n"
    "data = json.load(sys.stdin)      # the node's inputs\n"
    "print(json.dumps({\"echo\": data}))  # the node's output\n"
)


@register
class PythonBlock(Block):
    type = "python"
    title = "Python"
    category = "Code"
    description = "Run a Python script: JSON in on stdin, JSON out on stdout."
    icon = "python"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = PythonConfig

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"code": DEFAULT_CODE, "timeout_s": 30.0}

    @classmethod
    def check(cls, config: BlockConfig, ctx: CheckContext) -> list[str]:
        assert isinstance(config, PythonConfig)
        problems: list[str] = []
        if config.script and ctx.project_dir is not None and "{{" not in config.script:
            from nopflow.sandbox import SandboxError, check_inside

            try:
                path = check_inside(ctx.project_dir, config.script)
            except SandboxError as exc:
                problems.append(f"config.script: {exc}")
            else:
                if not path.is_file():
                    problems.append(f"config.script: no such file in the project folder: "
                                    f"{config.script}")
        if ctx.python:
            if not (os.path.isfile(ctx.python) and os.access(ctx.python, os.X_OK)):
                problems.append(
                    f"settings.python: interpreter not found or not executable: {ctx.python}"
                )
        return problems
