"""Blocks declare what they are; the compiler and palette read the declarations, not type names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nopflow.blocks import Block, Port, all_blocks, get_block, register, unregister
from nopflow.engine.compiler import compile_workflow, validate
from nopflow.engine.context import NodeContext, NodeResult
from nopflow.model import Workflow


class Trigger(Block):
    """An entry block that is not called `start`."""

    type = "test_trigger"
    title = "Test trigger"
    inputs = ()
    outputs = (Port("out"),)
    is_entry = True

    async def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult(ctx.scope.input)


class EachRow(Block):
    """A loop-like block whose body port is not called `body`."""

    type = "test_each_row"
    title = "Each row"
    outputs = (Port("each"), Port("after"))
    body_ports = frozenset({"each"})

    async def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult(await ctx.run_loop_body([1, 2], 1), frozenset({"each", "after"}))


@pytest.fixture
def plugin_blocks() -> Iterator[None]:
    for cls in (Trigger, EachRow):
        register(cls)
    yield
    for cls in (Trigger, EachRow):
        unregister(cls.type)


def wf(nodes: list[tuple[str, str]], edges: list[tuple[str, str, str]]) -> Workflow:
    return Workflow.model_validate({
        "nodes": [{"id": i, "type": t, "config": {"seconds": 0} if t == "delay" else {}}
                  for i, t in nodes],
        "edges": [{"id": f"e{k}", "source": s, "source_port": p, "target": d, "target_port": "in"}
                  for k, (s, p, d) in enumerate(edges)],
    })


def test_builtin_blocks_declare_their_behaviour() -> None:
    declared = {b.type: (b.is_entry, b.body_ports, b.contributes_result, b.needs_executor,
                         b.side_effects, b.version) for b in all_blocks()}
    assert declared["start"] == (True, frozenset(), False, False, False, 1)
    assert declared["loop"] == (False, frozenset({"body"}), False, False, False, 1)
    assert declared["output"] == (False, frozenset(), True, False, False, 1)
    assert declared["python"] == (False, frozenset(), False, True, True, 1)
    quiet = {t for t, d in declared.items() if d == (False, frozenset(), False, False, False, 1)}
    assert quiet == {"condition", "merge", "delay", "set", "read_file", "transform", "filter",
                     "aggregate"}
    with_side_effects = {t for t, d in declared.items() if d[4]}
    assert with_side_effects == {"python", "http", "write_file", "llm", "sql", "ssh", "shell",
                                 "subworkflow"}


def test_migrate_defaults_to_the_config_unchanged() -> None:
    block = get_block("delay")
    assert block is not None
    config: dict[str, Any] = {"seconds": 2}
    assert block.migrate(config, 1) == {"seconds": 2}


def test_an_entry_block_with_another_name_starts_a_run(plugin_blocks: None) -> None:
    plan = compile_workflow(wf([("t", "test_trigger"), ("d", "delay")], [("t", "out", "d")]))
    assert plan.starts == ["t"]


def test_a_body_port_with_another_name_forms_a_loop_body(plugin_blocks: None) -> None:
    w = wf([("s", "start"), ("l", "test_each_row"), ("a", "delay"), ("b", "delay"),
            ("z", "delay")],
           [("s", "out", "l"), ("l", "each", "a"), ("a", "out", "b"), ("l", "after", "z")])
    plan = compile_workflow(w)
    assert plan.loops["l"].members == {"a", "b"}
    assert plan.top_level == ["s", "l", "z"]
    bad = wf([("s", "start"), ("l", "test_each_row"), ("a", "delay")],
             [("s", "out", "l"), ("l", "each", "a"), ("l", "after", "a")])
    assert ("node a: node a is both inside loop l's body and after its 'after' port; give "
            "the body and the rest of the flow separate nodes") in [str(p) for p in validate(bad)]


def test_palette_puts_entry_blocks_first_in_their_category(plugin_blocks: None) -> None:
    from nopflow.ui.palette import ordered_blocks

    flow = [b.type for b in ordered_blocks() if b.category == "Flow"]
    assert flow[:2] == ["start", "test_trigger"]
