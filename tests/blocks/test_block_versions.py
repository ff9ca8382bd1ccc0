"""Per-node block versions: a block migrates an older node's config on load (CLI, editor),
and a node newer than its installed block is refused, naming it."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nopflow.blocks import get_block, register, unregister
from nopflow.engine.compiler import CompileError, compile_workflow
from nopflow.errors import WorkflowFileError
from nopflow.model import Node, Workflow, load_workflow, workflow_from_document

InstallDist = Callable[[str, dict[str, str], dict[str, str]], Path]

#: A plugin block at version 3. v1 stored one "text" ("hi there"); v2 split it into
#: "greeting" and "name"; v3 added "mark". Its migrate edits the config in place on purpose:
#: the loader must hand it a copy.
GREET = '''
from typing import Any

from nopflow.blocks import Block, BlockConfig, Port
from nopflow.engine.context import NodeContext, NodeResult


class GreetConfig(BlockConfig):
    greeting: str = "hello"
    name: str = "world"
    mark: str = "."


class Greet(Block):
    type = "greet"
    title = "Greet"
    category = "Text"
    version = 3
    Config = GreetConfig

    @classmethod
    def migrate(cls, config: dict[str, Any], from_version: int) -> dict[str, Any]:
        if from_version < 2:
            greeting, _, name = config.pop("text").partition(" ")
            config["greeting"], config["name"] = greeting, name
        if from_version < 3:
            config["mark"] = "!"
        return config

    async def run(self, ctx: NodeContext) -> NodeResult:
        words = f"{ctx.render('greeting')} {ctx.render('name')}{ctx.render('mark')}"
        return NodeResult({"text": words})
'''


def doc(version: int, greet: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "nopflow/workflow", "version": version, "id": "greet-wf", "name": "Greet",
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "hello", "type": "greet", **greet},
            {"id": "out", "type": "output", "config": {"values": {"said": "{{ $prev.text }}"}}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "hello"},
                  {"id": "e2", "source": "hello", "target": "out"}],
    }


V1_DOC = doc(1, {"config": {"text": "hi there"}})


@pytest.fixture
def greet_plugin(install_dist: InstallDist) -> Path:
    """The plugin, installed as a real distribution; returns its sys.path entry."""
    return install_dist("nopflow-t-greet", {"greet": "nopflow_t_greet:Greet"},
                        {"nopflow_t_greet": GREET})


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def nopflow(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_loading_migrates_an_older_nodes_config_and_leaves_the_document_alone(
    greet_plugin: Path,
) -> None:
    original = copy.deepcopy(V1_DOC)
    wf = workflow_from_document(V1_DOC, "greet.nopflow.json", blocks=get_block)
    assert V1_DOC == original  # the block's in-place edits landed on a copy
    hello = wf.node("hello")
    assert hello is not None and hello.version == 3
    assert hello.config == {"greeting": "hi", "name": "there", "mark": "!"}
    assert [n.version for n in wf.nodes] == [1, 3, 1]
    # without a block catalog only the file format is migrated
    plain = workflow_from_document(V1_DOC, "greet.nopflow.json").node("hello")
    assert plain is not None and plain.version == 1 and plain.config == {"text": "hi there"}


def test_a_node_at_an_intermediate_version_migrates_from_there(greet_plugin: Path) -> None:
    v2 = doc(2, {"version": 2, "config": {"greeting": "yo", "name": "bob"}})
    hello = workflow_from_document(v2, "g.nopflow.json", blocks=get_block).node("hello")
    assert hello is not None
    assert (hello.version, hello.config) == (3, {"greeting": "yo", "name": "bob", "mark": "!"})
    absent = doc(2, {"config": {"greeting": "yo"}})  # no version: the installed block's
    hello = workflow_from_document(absent, "g.nopflow.json", blocks=get_block).node("hello")
    assert hello is not None and (hello.version, hello.config) == (3, {"greeting": "yo"})


def test_cli_runs_a_version_1_file_with_an_old_plugin_node(
    greet_plugin: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "greet.nopflow.json", V1_DOC)
    before = path.read_bytes()
    res = nopflow(greet_plugin, "validate", str(path))
    assert res.returncode == 0, res.stderr
    res = nopflow(greet_plugin, "run", str(path), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["outputs"] == {"said": "hi there!"}
    assert path.read_bytes() == before  # running never rewrites the file


def test_a_node_newer_than_its_installed_block_is_refused_naming_it(
    greet_plugin: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "future.nopflow.json", doc(2, {"version": 5, "config": {}}))
    res = nopflow(greet_plugin, "run", str(path))
    assert res.returncode == 2
    assert (f"{path}: $.nodes[1].version (node hello): written for version 5 of block 'greet', "
            "but the installed block is version 3") in res.stderr
    assert "Traceback" not in res.stderr
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(path, blocks=get_block)
    assert info.value.node_id == "hello" and info.value.json_path == "$.nodes[1].version"


@pytest.fixture
def broken_blocks(greet_plugin: Path) -> Iterator[None]:
    base = get_block("greet")
    assert base is not None

    class Raises(base):  # type: ignore[misc, valid-type]
        type = "greet_raises"
        title = "Greet (raises)"

        @classmethod
        def migrate(cls, config: dict[str, Any], from_version: int) -> dict[str, Any]:
            raise KeyError("text")

    class NotADict(base):  # type: ignore[misc, valid-type]
        type = "greet_list"
        title = "Greet (list)"

        @classmethod
        def migrate(cls, config: dict[str, Any], from_version: int) -> Any:
            return ["not", "a", "config"]

    register(Raises)
    register(NotADict)
    yield
    unregister("greet_raises")
    unregister("greet_list")


def test_a_failing_block_migration_names_file_node_and_block(broken_blocks: None) -> None:
    document = doc(2, {"version": 1, "config": {}})
    document["nodes"][1]["type"] = "greet_raises"
    document["nodes"].append({"id": "other", "type": "greet_list", "version": 2})
    with pytest.raises(WorkflowFileError) as info:
        workflow_from_document(document, "bad.nopflow.json", blocks=get_block)
    assert str(info.value).splitlines() == [
        "bad.nopflow.json: $.nodes[1].config (node hello): block 'greet_raises' cannot "
        "migrate this config from version 1 to 3: 'text'",
        "bad.nopflow.json: $.nodes[3].config (node other): block 'greet_list' migrated this "
        "config to a list, not an object",
    ]
    assert [p.node_id for p in info.value.problems] == ["hello", "other"]


def test_compiler_refuses_a_node_whose_config_was_never_migrated(greet_plugin: Path) -> None:
    wf = Workflow(nodes=[Node(id="start", type="start"),
                         Node(id="hello", type="greet", version=1, config={"text": "hi"})],
                  edges=[{"source": "start", "target": "hello"}])
    with pytest.raises(CompileError) as info:
        compile_workflow(wf)
    assert [(p.node_id, p.kind) for p in info.value.problems] == [("hello", "version")]
    assert "config is for version 1 of block 'greet' (installed: 3)" in str(info.value)


def test_editor_opens_an_old_file_and_saves_it_migrated_as_version_2(
    greet_plugin: Path, tmp_path: Path, qtbot  # type: ignore[no-untyped-def]
) -> None:
    pytest.importorskip("PySide6")
    from PySide6.QtCore import QPointF

    from nopflow.ui.main_window import MainWindow

    path = write(tmp_path / "greet.nopflow.json", V1_DOC)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.open_file(str(path))
    win.editor.add_block("greet", QPointF(400, 0))
    assert win.save()
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["version"] == 2
    nodes = {n["id"]: n for n in saved["nodes"]}
    assert nodes["hello"]["version"] == 3
    assert nodes["hello"]["config"] == {"greeting": "hi", "name": "there", "mark": "!"}
    added = [n for n in saved["nodes"] if n["id"] not in {"start", "hello", "out"}]
    assert [(n["type"], n["version"]) for n in added] == [("greet", 3)]
    assert {n["id"]: n["version"] for n in saved["nodes"]}["start"] == 1
    assert load_workflow(path, blocks=get_block) == load_workflow(path)  # nothing left to do
    # the window's problem check must finish inside this test: it looks blocks up on a worker
    # thread, and the plugin fixture's teardown forgets the registry while it may be loading
    win.validator.run_now()
    win.validator.wait()
    win.undo.setClean()
    win.close()
