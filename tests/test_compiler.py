"""The compiler reports every problem at once, each naming its node or edge (docs/execution.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nopflow.engine.compiler import CompileError, Problem, compile_workflow, validate
from nopflow.model import Workflow


def wf(nodes: list[dict[str, Any]], edges: list[tuple[str, ...]] = (), **kw: Any) -> Workflow:
    """A workflow from compact node dicts and (source, target[, source_port, target_port])."""
    edge_docs = []
    for i, e in enumerate(edges):
        src, dst, *ports = e
        edge_docs.append({"id": f"e{i}", "source": src, "target": dst,
                          "source_port": ports[0] if ports else "out",
                          "target_port": ports[1] if len(ports) > 1 else "in"})
    return Workflow.model_validate({"nodes": nodes, "edges": edge_docs, **kw})


def n(node_id: str, type_: str = "delay", **config: Any) -> dict[str, Any]:
    if type_ == "delay" and not config:
        config = {"seconds": 0}
    return {"id": node_id, "type": type_, "config": config}


def problems(w: Workflow, project_dir: Path | None = None) -> list[str]:
    return [str(p) for p in validate(w, project_dir)]


def test_valid_plan_has_order_predecessors_and_ports() -> None:
    w = wf([n("s", "start"), n("c", "condition", expression="$input.x > 1"), n("a"), n("b"),
            n("m", "merge")],
           [("s", "c"), ("c", "a", "true"), ("c", "b", "false"), ("a", "m"), ("b", "m")])
    plan = compile_workflow(w)
    assert plan.order[0] == "s" and plan.order[-1] == "m"
    assert plan.preds("m") == ["a", "b"]
    assert {p: [e.target for e in es] for p, es in plan.nodes["c"].out_edges_by_port().items()} \
        == {"true": ["a"], "false": ["b"]}
    assert plan.ancestors["m"] == {"s", "c", "a", "b"}
    assert plan.starts == ["s"] and plan.top_level == plan.order


def test_every_problem_is_reported_at_once() -> None:
    w = wf([n("s", "start"), n("a"), n("b"), n("c"), n("lost"), n("x", "teleport"),
            n("bad", "delay", seconds=-1)],
           [("s", "a"), ("a", "b"), ("b", "c"), ("c", "a"), ("s", "ghost"), ("s", "bad")])
    found = problems(w)
    assert any(p.startswith("node a: cycle: ") and "a -> b -> c -> a" in p.replace(
        "b -> c -> a -> b", "a -> b -> c -> a") for p in found) or any(
        "cycle:" in p and all(x in p for x in ("a", "b", "c")) for p in found)
    assert "node s: edge e4: target node 'ghost' does not exist" in found
    assert any(p.startswith("node x: unknown block type 'teleport'") for p in found)
    assert any(p.startswith("node bad: config: 'seconds' must be 0 or more") for p in found)
    assert len(found) >= 4


def test_cycle_lists_its_nodes() -> None:
    w = wf([n("s", "start"), n("a"), n("b")], [("s", "a"), ("a", "b"), ("b", "a")])
    (p,) = [p for p in validate(w) if p.kind == "cycle"]
    assert set(p.message.removeprefix("cycle: ").split(" -> ")) == {"a", "b"}
    assert p.node_id in {"a", "b"}


def test_self_loop_is_a_cycle() -> None:
    w = wf([n("s", "start"), n("a")], [("s", "a"), ("a", "a")])
    assert "node a: cycle: a -> a" in problems(w)


def test_edge_to_missing_port_names_valid_ports() -> None:
    w = wf([n("s", "start"), n("c", "condition", expression="true"), n("a")],
           [("s", "c"), ("c", "a", "maybe", "in")])
    assert ("node c: edge e1: condition has no output port 'maybe' (its output ports: true, false)"
            in problems(w))


def test_edge_into_start_has_no_input_port() -> None:
    w = wf([n("s", "start"), n("t", "start")], [("s", "t")])
    assert "node t: edge e0: start has no input port 'in' (its input ports: none)" in problems(w)


def test_duplicate_ids_and_duplicate_connections() -> None:
    w = wf([n("s", "start"), n("a"), n("a")], [("s", "a"), ("s", "a")])
    found = problems(w)
    assert "node a: duplicate node id" in found
    assert "node s: edge e1: duplicate connection s.out -> a.in" in found


def test_no_start_node() -> None:
    assert "workflow: no start node: add a 'start' block" in problems(wf([n("a")]))


def test_unreachable_node() -> None:
    w = wf([n("s", "start"), n("a"), n("island")], [("s", "a")])
    assert problems(w) == ["node island: not reachable from a start node: connect its input"]


def test_invalid_config_maps_pydantic_message_to_node() -> None:
    w = wf([n("s", "start"), n("p", "python", code="x", timeout_s="soon", colour="red")],
           [("s", "p")])
    found = problems(w)
    assert any(p.startswith("node p: config.timeout_s: Input should be a valid number")
               for p in found)
    assert "node p: config.colour: unknown field" in found


def test_python_needs_code_or_script() -> None:
    w = wf([n("s", "start"), n("p", "python")], [("s", "p")])
    assert ("node p: config: set 'code' (inline source) or 'script' (a file in the project)"
            in problems(w))


def test_expression_syntax_errors_name_node_field_and_position() -> None:
    w = wf([n("s", "start"), n("o", "output", values={"x": "{{ $input.a + }}"}),
            n("c", "condition", expression="$input.a >")],
           [("s", "o"), ("s", "c")])
    found = problems(w)
    assert any(p.startswith("node o: config.values") and "position" in p for p in found)
    assert any(p.startswith("node c: config.expression") and "position" in p for p in found)


def test_node_reference_must_be_an_ancestor() -> None:
    w = wf([n("s", "start"), n("a"), n("b"),
            n("o", "output", values={"x": "{{ $node.b.y }}", "z": "{{ $node.nope }}"})],
           [("s", "a"), ("s", "b"), ("a", "o")])
    found = problems(w)
    assert any(p.startswith("node o: expression refers to $node.b, which does not run before")
               for p in found)
    assert "node o: expression refers to $node.nope, which does not exist" in found


def test_loop_variable_only_inside_a_body() -> None:
    w = wf([n("s", "start"), n("o", "output", values={"i": "{{ $loop.index }}"})], [("s", "o")])
    assert problems(w) == ["node o: $loop is only available inside a loop body"]


def test_loop_body_and_nesting() -> None:
    w = wf([n("s", "start"), n("outer", "loop", count=2), n("inner", "loop", items=[1, 2]),
            n("work", "output", values={"i": "{{ $loop.item }}"}), n("after"), n("done")],
           [("s", "outer"), ("outer", "inner", "body"), ("inner", "work", "body"),
            ("inner", "after", "done"), ("outer", "done", "done")])
    plan = compile_workflow(w)
    assert plan.loops["outer"].members == {"inner", "work", "after"}
    assert plan.loops["outer"].direct == {"inner", "after"}
    assert plan.loops["inner"].direct == {"work"}
    assert plan.loops["outer"].sinks == ["after"] and plan.loops["inner"].sinks == ["work"]
    assert plan.nodes["work"].loop == "inner" and plan.nodes["done"].loop is None
    assert plan.top_level == ["s", "outer", "done"]


def test_loop_body_fed_from_outside_is_refused() -> None:
    w = wf([n("s", "start"), n("l", "loop", count=2), n("b"), n("side")],
           [("s", "l"), ("l", "b", "body"), ("s", "side"), ("side", "b")])
    assert any(p.startswith("node b: inside loop l's body but also fed by side")
               for p in problems(w))


def test_done_branch_joining_the_body_is_refused() -> None:
    w = wf([n("s", "start"), n("l", "loop", count=2), n("b"), n("m", "merge")],
           [("s", "l"), ("l", "b", "body"), ("b", "m"), ("l", "m", "done")])
    assert any("both inside loop l's body and after its 'done' port" in p for p in problems(w))


def test_script_path_checked_against_project_dir(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("print('{}')")
    w = wf([n("s", "start"), n("a", "python", script="ok.py"),
            n("b", "python", script="../escape.py"), n("c", "python", script="missing.py")],
           [("s", "a"), ("s", "b"), ("s", "c")])
    found = problems(w, tmp_path)
    assert not any(p.startswith("node a:") for p in found)
    assert any(p.startswith("node b: config.script:") and "outside the project directory" in p
               for p in found)
    assert any(p.startswith("node c: config.script: no such file") for p in found)


def test_missing_interpreter_is_a_validate_error() -> None:
    w = wf([n("s", "start"), n("p", "python", code="print(1)")], [("s", "p")],
           settings={"python": "/nonexistent/python3"})
    assert any("interpreter not found" in p for p in problems(w))


def test_compile_error_lists_problems() -> None:
    with pytest.raises(CompileError) as info:
        compile_workflow(wf([n("a")]))
    assert info.value.problems == [Problem("no start node: add a 'start' block", kind="no-start")]


def test_cycle_does_not_hide_other_problems() -> None:
    w = wf([n("s", "start"), n("a"), n("b"), n("lone")], [("s", "a"), ("a", "b"), ("b", "a")])
    found = problems(w)
    assert any("cycle:" in p for p in found)
    assert "node lone: not reachable from a start node: connect its input" in found


def test_a_broken_node_is_not_also_called_unreachable() -> None:
    w = wf([n("s", "start"), n("p", "python", code="print(1)", timeout_s="x"), n("d")],
           [("s", "p"), ("p", "d")])
    found = problems(w)
    assert [p.split(":")[0] for p in found] == ["node p"]


def test_python_source_is_not_a_template() -> None:
    code = "n = 1\nprint(f'{{\"a\": {n}}}')\nprint('{{name}}'.format(name=2))\n"
    w = wf([n("s", "start"), n("p", "python", code=code)], [("s", "p")])
    assert problems(w) == []


@pytest.mark.parametrize(("type_", "config", "field"), [
    ("delay", {"seconds": "soon"}, "seconds"),
    ("loop", {"count": "many"}, "count"),
])
def test_number_fields_take_numbers_or_templates(type_: str, config: dict[str, Any],
                                                 field: str) -> None:
    w = wf([n("s", "start"), n("x", type_, **config)], [("s", "x")])
    assert any(p.startswith(f"node x: config: '{field}' must be a number or a {{{{ }}}} "
                            "template") for p in problems(w))
    ok = dict(config, **{field: "{{ $input.n }}"})
    assert problems(wf([n("s", "start"), n("x", type_, **ok)], [("s", "x")])) == []
