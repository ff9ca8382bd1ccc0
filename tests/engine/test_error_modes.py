"""stop | skip-branch | continue, workflow-wide and per node."""

from __future__ import annotations

import time

from wfhelpers import make_wf, run_wf, states

# a node that always fails at run time: an expression error
FAIL = ("delay", {"seconds": "{{ $input.missing }}"})


def graph(mode: str, node_mode: str | None = None):
    extra = {"error_mode": node_mode} if node_mode else {}
    return make_wf(
        [("s", "start", {}), ("bad", *FAIL, extra), ("after", "delay", {"seconds": 0}),
         ("slow", "delay", {"seconds": 0.3}), ("later", "delay", {"seconds": 0}),
         ("o", "output", {"values": {"seen": "{{ $prev }}"}})],
        ["s->bad", "bad->after", "after->o", "s->slow", "slow->later"],
        error_mode=mode,
    )


async def test_stop_cancels_the_rest() -> None:
    t0 = time.perf_counter()
    run = await run_wf(graph("stop"))
    assert time.perf_counter() - t0 < 0.25  # slow was cancelled, not waited for
    st = states(run)
    assert run.status == "failed"
    assert st["bad"] == "error"
    assert st["slow"] == "cancelled"
    assert st["later"] == "cancelled" and st["after"] == "cancelled" and st["o"] == "cancelled"


async def test_skip_branch_skips_descendants_others_go_on() -> None:
    run = await run_wf(graph("skip-branch"))
    st = states(run)
    assert run.status == "failed"
    assert st["bad"] == "error"
    assert st["after"] == "skipped" and st["o"] == "skipped"
    assert st["slow"] == "success" and st["later"] == "success"


async def test_skip_branch_skips_descendant_with_another_live_input() -> None:
    wf = make_wf(
        [("s", "start", {}), ("bad", *FAIL), ("ok", "delay", {"seconds": 0}),
         ("m", "merge", {})],
        ["s->bad", "s->ok", "bad->m", "ok->m"], error_mode="skip-branch",
    )
    run = await run_wf(wf)
    assert states(run)["m"] == "skipped"


async def test_continue_descendants_see_prev_error() -> None:
    run = await run_wf(graph("continue"))
    st = states(run)
    assert run.status == "failed"
    assert st["after"] == "success" and st["o"] == "success" and st["later"] == "success"
    seen = run.outputs["seen"]
    assert seen["error"] == run.nodes["bad"].error  # $prev.error is the message itself
    assert seen["error_type"] == "ExpressionError"
    assert "node bad" in seen["error"] and "config.seconds" in seen["error"]


async def test_node_error_mode_overrides_workflow() -> None:
    run = await run_wf(graph("stop", node_mode="continue"))
    st = states(run)
    assert st["after"] == "success" and st["slow"] == "success"
    assert run.status == "failed"


async def test_expression_error_names_node_field_and_expression() -> None:
    run = await run_wf(graph("stop"))
    msg = run.nodes["bad"].error
    assert msg is not None
    assert "node bad" in msg and "config.seconds" in msg and "$input.missing" in msg
