"""The example plugin in examples/plugins/ installs with pip and its block is used from the
CLI (`validate`, `run`, `schema`) and the editor (palette, canvas), found only through its
entry-point metadata."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nopflow.blocks import block_origin, get_block, registry

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "nopflow-example-block"
HELLO = PLUGIN / "hello.nopflow.json"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install` of a copy of the plugin (the source tree stays clean) into a folder."""
    tmp = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN, tmp / "src", ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-input",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert (target / "nopflow_example_block-0.1.0.dist-info" / "entry_points.txt").is_file()
    return target


def nopflow(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "nopflow", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd)


def test_cli_validates_and_runs_a_workflow_using_the_plugin_block(site: Path,
                                                                  tmp_path: Path) -> None:
    wf = tmp_path / "hello.nopflow.json"
    shutil.copy(HELLO, wf)
    res = nopflow(site, "validate", str(wf))
    assert res.returncode == 0, res.stderr
    assert f"{wf}: valid (3 nodes, 2 edges)" in res.stderr
    res = nopflow(site, "run", str(wf), "--json", "-q", "-i", "name=ada")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert result["outputs"] == {"greeting": "HELLO ADA"}
    assert result["nodes"]["greet"]["output"] == {"text": "HELLO ADA"}


def test_cli_reports_a_bad_plugin_config_like_a_builtin_one(site: Path, tmp_path: Path) -> None:
    doc = json.loads(HELLO.read_text(encoding="utf-8"))
    doc["nodes"][1]["config"]["case"] = "shout"
    wf = tmp_path / "bad.nopflow.json"
    wf.write_text(json.dumps(doc), encoding="utf-8")
    res = nopflow(site, "validate", str(wf))
    assert res.returncode == 2
    assert res.stdout.splitlines() == [
        "node greet: config.case: Input should be 'keep', 'upper' or 'lower'"]


def test_without_the_plugin_the_type_is_unknown(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "nopflow", "validate", str(HELLO)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stdout.startswith("node greet: unknown block type 'text_template'")


def test_schema_covers_the_plugin_block(site: Path) -> None:
    res = nopflow(site, "schema")
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)
    branch = next(b for b in schema["$defs"]["Node"]["allOf"]
                  if b["if"]["properties"]["type"]["const"] == "text_template")
    ref = branch["then"]["properties"]["config"]["$ref"].rsplit("/", 1)[-1]
    config = schema["$defs"][ref]
    assert config["required"] == ["template"]
    assert config["properties"]["case"]["enum"] == ["keep", "upper", "lower"]
    jsonschema = pytest.importorskip("jsonschema")
    doc = json.loads(HELLO.read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    doc["nodes"][1]["config"]["case"] = "shout"
    with pytest.raises(jsonschema.ValidationError, match="'shout' is not one of"):
        jsonschema.validate(doc, schema)


@pytest.fixture
def on_path(site: Path) -> Iterator[None]:
    sys.path.insert(0, str(site))
    registry.rediscover()
    yield
    sys.path.remove(str(site))
    sys.modules.pop("nopflow_example_block", None)
    registry.rediscover()


def test_editor_offers_the_plugin_block_and_places_it(on_path: None, editor, qtbot,
                                                      tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert block_origin("text_template") == "nopflow-example-block 0.1.0"
    win = editor()
    item = win.palette.items["text_template"]
    assert (item.parent().text(0), item.text(0)) == ("Text", "Text template")
    assert not win.palette.plugin_note.isVisible()
    win.palette.activated.emit("text_template")
    node = next(n for n in win.doc.nodes.values() if n.type == "text_template")
    assert node.config == get_block("text_template").default_config()  # type: ignore[union-attr]
    assert node.id in win.scene.nodes
    win.scene.nodes[node.id].setSelected(True)
    qtbot.wait(50)
    win.grab().save(os.environ.get("NOPFLOW_TEST_SHOT", str(tmp_path / "editor.png")))
