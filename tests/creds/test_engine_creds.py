"""The engine side of credentials: a block's credential field resolves through the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import Field

from nopflow.blocks import Block, BlockConfig, register, unregister
from nopflow.blocks.fields import credential
from nopflow.engine.compiler import CompileError
from nopflow.engine.context import NodeContext, NodeResult
from nopflow.engine.runner import Run
from nopflow.model import Edge, Node, Workflow
from nopflow.model.credentials import Credential

SECRET = "engine-secret-777"


class UseConfig(BlockConfig):
    credential: str | None = Field(default=None, json_schema_extra=credential("token"))


class UseBlock(Block):
    type = "test_use_credential"
    title = "Use credential"
    Config = UseConfig

    async def run(self, ctx: NodeContext) -> NodeResult:
        cred = ctx.credential(ctx.config.credential)  # type: ignore[attr-defined]
        return NodeResult({"type": cred.type, "header": f"Bearer {cred.fields['token']}"})


@pytest.fixture(autouse=True)
def use_block() -> Iterator[None]:
    register(UseBlock)
    yield
    unregister(UseBlock.type)


def wf() -> Workflow:
    return Workflow(nodes=[Node(id="start", type="start"),
                           Node(id="u", type=UseBlock.type, config={"credential": "api"})],
                    edges=[Edge(id="e", source="start", target="u")])


async def test_block_gets_its_credential_and_results_hide_it():
    run = Run(wf(), credentials={"api": Credential("api", "token", {"token": SECRET})})
    await run.execute()
    assert run.state.value == "completed"
    assert run.nodes["u"].output == {"type": "token", "header": f"Bearer {SECRET}"}
    assert run.result()["nodes"]["u"]["output"] == {"type": "token", "header": "Bearer ***"}


def test_a_run_without_the_credential_does_not_start():
    with pytest.raises(CompileError) as err:
        Run(wf(), credentials={})
    assert "credential 'api' does not exist" in str(err.value)
    assert err.value.problems[0].node_id == "u"
