"""`subworkflow`: runs another workflow file of the project as a child run (docs/blocks.md)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from nopflow.blocks.base import Block, BlockConfig, CheckContext, Port
from nopflow.blocks.fields import JSON
from nopflow.engine.context import NodeContext, NodeFailure, NodeResult
from nopflow.sandbox.paths import SandboxError, check_inside


class SubworkflowConfig(BlockConfig):
    """Runs another workflow of the project with its own inputs; its outputs are this
    node's output."""

    path: str = Field(description="The workflow file to run, inside the project folder",
                      json_schema_extra={"widget": "workflow_file"})
    inputs: dict[str, Any] = Field(default_factory=dict,
                                   description="The child's run inputs ($input there)",
                                   json_schema_extra=JSON)


class SubworkflowBlock(Block):
    type = "subworkflow"
    title = "Sub-workflow"
    category = "Flow"
    description = "Run another workflow file as a child run; its outputs come out here."
    icon = "subworkflow"
    inputs = (Port("in"),)
    outputs = (Port("out"),)
    Config = SubworkflowConfig
    side_effects = True
    workflow_file_field = "path"
    workflow_inputs_field = "inputs"

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"path": "", "inputs": {}}

    @classmethod
    def check(cls, config: BlockConfig, ctx: CheckContext) -> list[str]:
        """A literal path must be a workflow of the project that compiles, with no cycle
        back to this one and at most 8 levels of nesting (templated paths: at run time)."""
        assert isinstance(config, SubworkflowConfig)
        if not config.path.strip():
            return ["config.path: name the workflow file to run"]
        if "{{" in config.path:
            return []
        return ctx.subworkflow_problems(config.path, "config.path")

    async def run(self, ctx: NodeContext) -> NodeResult:
        """Run the child with the rendered `inputs`; the child's `outputs` are the output."""
        raw = ctx.render("path")
        if not isinstance(raw, str) or not raw.strip():
            raise NodeFailure(f"node {ctx.node_id}, config.path: expected a workflow file, "
                              f"got {raw!r}", error_type="ValueError")
        try:
            path = check_inside(ctx.project_dir, raw, what="config.path")
        except SandboxError as exc:
            raise NodeFailure(f"node {ctx.node_id}, {exc}", error_type="SubworkflowError") \
                from None
        if not path.is_file():
            raise NodeFailure(f"node {ctx.node_id}, config.path: no such workflow file in "
                              f"the project folder: {raw}", error_type="SubworkflowError")
        inputs = ctx.render("inputs")
        if not isinstance(inputs, dict):
            raise NodeFailure(f"node {ctx.node_id}, config.inputs: expected an object",
                              error_type="ValueError")
        ctx.set_inputs(inputs)
        return NodeResult(await ctx.run_subworkflow(path, inputs))
