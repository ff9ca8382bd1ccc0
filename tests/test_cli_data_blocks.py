"""transform / filter / aggregate as a user runs them: `nopflow run --json` and `validate`."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def write(folder: Path, nodes: list[dict[str, Any]]) -> Path:
    ids = ["start", *(n["id"] for n in nodes)]
    doc = {"format": "nopflow/workflow", "version": 2, "id": "data-cli", "name": "Data",
           "inputs": {"orders": {"default": [
               {"customer": "ada", "amount": 30}, {"customer": "bob", "amount": 5},
               {"customer": "ada", "amount": 12}]}},
           "nodes": [{"id": "start", "type": "start"}, *nodes],
           "edges": [{"id": f"e{i}", "source": a, "target": b}
                     for i, (a, b) in enumerate(itertools.pairwise(ids))]}
    path = folder / "data.nopflow.json"
    path.write_text(json.dumps(doc))
    return path


def nopflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO)


def test_run_json_shows_the_pipeline_result(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(tmp_path / "data"))
    path = write(tmp_path, [
        {"id": "big", "type": "filter", "config": {"items": "$prev.orders",
                                                   "where": "$item.amount >= 10"}},
        {"id": "tag", "type": "transform", "config": {"map": {
            "who": "{{ $item.customer | upper }}", "cents": "{{ $item.amount * 100 }}"}}},
        {"id": "sum", "type": "aggregate", "config": {"group_by": "who", "metrics": {
            "orders": "count", "cents": "sum:cents"}}},
        {"id": "out", "type": "output", "config": {"values": {"report": "{{ $prev }}"}}},
    ])
    res = nopflow("run", str(path), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["outputs"]["report"] == [{"who": "ADA", "orders": 2, "cents": 4200}]
    assert out["nodes"]["big"]["output"] == [{"customer": "ada", "amount": 30},
                                             {"customer": "ada", "amount": 12}]


def test_run_failure_names_node_item_and_field(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOPFLOW_DATA_DIR", str(tmp_path / "data"))
    path = write(tmp_path, [{"id": "sum", "type": "aggregate", "config": {
        "items": "$prev.orders", "metrics": {"total": "sum:amount", "x": "collect:price"}}}])
    res = nopflow("run", str(path))
    assert res.returncode == 1
    assert "node sum, item 0: field 'price' is missing" in res.stderr
    assert "Traceback" not in res.stderr


def test_validate_lists_every_bad_expression_and_metric(tmp_path: Path) -> None:
    path = write(tmp_path, [
        {"id": "f", "type": "filter", "config": {"where": "$item.amount >> 3"}},
        {"id": "t", "type": "transform", "config": {"map": {"a": "{{ $item.x | nope }}"}}},
        {"id": "a", "type": "aggregate", "config": {"metrics": {"m": "mean:amount"}}},
    ])
    res = nopflow("validate", str(path))
    assert res.returncode == 2
    assert "node f: config.where:" in res.stdout + res.stderr
    assert "node t: config.map.a: unknown filter 'nope'" in res.stdout + res.stderr
    assert "node a: config.metrics: metrics.m: unknown metric 'mean'" in res.stdout + res.stderr
