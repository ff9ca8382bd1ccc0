"""The runner reads what blocks declare (body ports, result, executor), not their type names."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from nopflow.blocks import Block, Port
from nopflow.blocks import registry as reg
from nopflow.engine.context import NodeContext, NodeResult
from nopflow.engine.runner import Run
from nopflow.model import Workflow


class EachItem(Block):
    """A loop-like block whose body port is called `each`."""

    type = "test_run_each"
    title = "Each item"
    outputs = (Port("each"), Port("after"))
    body_ports = frozenset({"each"})

    async def run(self, ctx: NodeContext) -> NodeResult:
        results = await ctx.run_loop_body([1, 2, 3], 1)
        return NodeResult({"results": results}, frozenset({"each", "after"}))


class Report(Block):
    """A result block that is not called `output`."""

    type = "test_run_report"
    title = "Report"
    contributes_result = True

    async def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult({"reported": ctx.prev})


class Remote(Block):
    """A block that runs its work through the executor (it only looks whether one exists)."""

    type = "test_run_remote"
    title = "Remote"
    needs_executor = True

    async def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult({})


@pytest.fixture(autouse=True)
def plugin_blocks() -> Iterator[None]:
    for cls in (EachItem, Report, Remote):
        reg.register(cls)
    yield
    for cls in (EachItem, Report, Remote):
        reg.unregister(cls.type)


def wf(nodes: list[tuple[str, str]], edges: list[tuple[str, str, str]], **settings: object
       ) -> Workflow:
    return Workflow.model_validate({
        "nodes": [{"id": i, "type": t, "config": {"seconds": 0} if t == "delay" else {}}
                  for i, t in nodes],
        "edges": [{"id": f"e{k}", "source": s, "source_port": p, "target": d}
                  for k, (s, p, d) in enumerate(edges)],
        "settings": settings,
    })


async def test_a_body_port_with_another_name_runs_its_body_without_holding_a_slot() -> None:
    w = wf([("s", "start"), ("l", "test_run_each"), ("a", "delay"), ("r", "test_run_report")],
           [("s", "out", "l"), ("l", "each", "a"), ("l", "after", "r")], max_parallel=1)
    run = await asyncio.wait_for(Run(w).execute(), 10)
    assert run.status == "completed"
    assert run.nodes["a"].iterations == 3
    assert run.outputs == {"reported": {"results": [1, 2, 3]}}


async def test_a_result_block_with_another_name_makes_the_run_outputs() -> None:
    run = await Run(wf([("s", "start"), ("r", "test_run_report")], [("s", "out", "r")])
                    ).execute()
    assert run.outputs == {"reported": {}}


async def test_a_block_that_needs_an_executor_gets_one_before_the_first_node_runs() -> None:
    run = Run(wf([("s", "start"), ("x", "test_run_remote")], [("s", "out", "x")]))
    await run.execute()
    assert run.status == "completed"
    assert run._executor is not None  # made at start, so it warms up while nodes run
