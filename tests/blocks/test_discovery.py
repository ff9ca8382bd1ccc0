"""Blocks come from the built-in list and the `nopflow.blocks` entry-point group; a broken
plugin is reported (which one, why) and never stops the app."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from nopflow.blocks import block_origin, block_types, get_block, plugin_problems

#: the `install_dist` fixture (tests/blocks/conftest.py)
InstallDist = Callable[[str, dict[str, str], dict[str, str]], Path]

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"

GOOD = '''
from nopflow.blocks import Block, BlockConfig, Port
from nopflow.engine.context import NodeContext, NodeResult


class ShoutConfig(BlockConfig):
    pass


class Shout(Block):
    type = "shout"
    title = "Shout"
    category = "Text"
    outputs = (Port("out"),)
    Config = ShoutConfig

    async def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult(str(ctx.prev).upper())
'''

BROKEN = {
    "nopflow_t_import": "import no_such_module_anywhere\n",
    "nopflow_t_notblock": "def thing():\n    return 1\n",
    "nopflow_t_dup": GOOD.replace('type = "shout"', 'type = "python"'),
    "nopflow_t_nodefault": GOOD.replace("pass", "must: int").replace("Shout", "Needy")
                                  .replace('"shout"', '"needy"'),
    "nopflow_t_norun": GOOD.split("    async def")[0].replace('"shout"', '"lazy"'),
}
BROKEN_EPS = {
    "import_error": "nopflow_t_import:Block",
    "not_a_block": "nopflow_t_notblock:thing",
    "duplicate": "nopflow_t_dup:Shout",
    "bad_default": "nopflow_t_nodefault:Needy",
    "no_run": "nopflow_t_norun:Shout",
    "missing_attr": "nopflow_t_notblock:Nothing",
}


def test_builtins_are_found_without_any_plugin() -> None:
    assert set(block_types()) == {"start", "python", "condition", "loop", "merge", "delay",
                                  "set", "output", "http", "read_file", "write_file", "llm",
                                  "sql", "ssh", "shell", "subworkflow", "transform", "filter",
                                  "aggregate"}
    assert block_origin("python") == "nopflow"
    assert plugin_problems() == []


def test_a_plugin_block_is_discovered_from_its_entry_point(install_dist: InstallDist) -> None:
    install_dist("nopflow-t-good", {"shout": "nopflow_t_good:Shout"}, {"nopflow_t_good": GOOD})
    block = get_block("shout")
    assert block is not None and block.title == "Shout"
    assert block_origin("shout") == "nopflow-t-good 0.1"
    assert block_types()[-1] == "shout"


def test_broken_plugins_are_reported_one_by_one_and_the_rest_still_load(
    install_dist: InstallDist,
) -> None:
    install_dist("nopflow-t-broken", BROKEN_EPS, BROKEN)
    install_dist("nopflow-t-good", {"shout": "nopflow_t_good:Shout"}, {"nopflow_t_good": GOOD})
    reasons = {p.entry_point: p.reason for p in plugin_problems()}
    assert set(reasons) == set(BROKEN_EPS)
    assert reasons["import_error"] == (
        "cannot load it: ModuleNotFoundError: No module named 'no_such_module_anywhere'")
    assert "is not a subclass of nopflow.blocks.Block" in reasons["not_a_block"]
    assert reasons["duplicate"] == "block type 'python' is already provided by nopflow"
    assert reasons["bad_default"].startswith("Needy.default_config() does not validate")
    assert reasons["no_run"] == "Shout does not implement run()"
    assert reasons["missing_attr"].startswith("cannot load it: AttributeError")
    first = next(p for p in plugin_problems() if p.entry_point == "import_error")
    assert str(first) == (
        "block plugin 'import_error' (nopflow_t_import:Block, from nopflow-t-broken 0.1) was "
        "skipped: cannot load it: ModuleNotFoundError: No module named "
        "'no_such_module_anywhere'")
    assert get_block("shout") is not None
    assert get_block("python").__module__ == "nopflow.blocks.python_script"  # type: ignore[union-attr]


def test_cli_warns_about_a_broken_plugin_and_still_works(install_dist: InstallDist) -> None:
    root = install_dist("nopflow-t-broken", {"import_error": "nopflow_t_import:Block"},
                        {"nopflow_t_import": BROKEN["nopflow_t_import"]})
    env = {**os.environ, "PYTHONPATH": str(root)}
    example = EXAMPLES / "parallel-stats.nopflow.json"
    res = subprocess.run([sys.executable, "-m", "nopflow", "validate", str(example)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    assert ("nopflow: warning: block plugin 'import_error' (nopflow_t_import:Block, from "
            "nopflow-t-broken 0.1) was skipped: cannot load it: ModuleNotFoundError: No "
            "module named 'no_such_module_anywhere'") in res.stderr.splitlines()
    assert "valid" in res.stderr
    version = subprocess.run([sys.executable, "-m", "nopflow", "--version"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert version.returncode == 0 and version.stderr == ""


def test_editor_says_which_plugin_was_skipped(install_dist: InstallDist, editor) -> None:  # type: ignore[no-untyped-def]
    install_dist("nopflow-t-broken", {"import_error": "nopflow_t_import:Block"},
                 {"nopflow_t_import": BROKEN["nopflow_t_import"]})
    install_dist("nopflow-t-good", {"shout": "nopflow_t_good:Shout"}, {"nopflow_t_good": GOOD})
    win = editor()
    note = win.palette.plugin_note
    assert note.isVisible()
    assert note.text().startswith("⚠ 1 block plugin could not be loaded:\n• block plugin "
                                  "'import_error' (nopflow_t_import:Block, from "
                                  "nopflow-t-broken 0.1) was skipped: cannot load it")
    assert win.palette.items["shout"].text(0) == "Shout"
    assert win.palette.items["shout"].parent().text(0) == "Text"


EXITS = GOOD.replace("from nopflow.blocks", "import sys\nsys.exit(3)\nfrom nopflow.blocks")
NO_SCHEMA = GOOD.replace("class ShoutConfig(BlockConfig):\n    pass", '''
from pydantic import ConfigDict


class Opaque:
    pass


class ShoutConfig(BlockConfig):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    thing: Opaque | None = None''').replace('"shout"', '"opaque"')


def test_a_plugin_that_exits_on_import_is_skipped(install_dist: InstallDist) -> None:
    install_dist("nopflow-t-exits", {"exits": "nopflow_t_exits:Shout"},
                 {"nopflow_t_exits": EXITS})
    assert [p.reason for p in plugin_problems()] == ["cannot load it: SystemExit: 3"]


def test_schema_leaves_out_a_plugin_config_it_cannot_describe(install_dist: InstallDist) -> None:
    root = install_dist("nopflow-t-opaque", {"opaque": "nopflow_t_opaque:Shout"},
                        {"nopflow_t_opaque": NO_SCHEMA})
    assert get_block("opaque") is not None, plugin_problems()
    res = subprocess.run([sys.executable, "-m", "nopflow", "schema"], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(root)})
    assert res.returncode == 0, res.stderr
    assert "opaque" not in res.stdout and '"const": "python"' in res.stdout
    assert res.stderr.startswith("nopflow: warning: block 'opaque' (nopflow-t-opaque 0.1): "
                                 "its config has no JSON Schema, left out:")
