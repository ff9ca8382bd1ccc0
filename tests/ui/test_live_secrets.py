"""The editor's run panels show a run's secrets as `***` (the run's one Redactor): run
details (inputs, output, error, log), the Output log, and an exported kept run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("qasync")

from nopflow.ui.live import history_panel, run_inputs_dialog

from .test_live_run import (  # noqa: F401  (the fixtures are used by name)
    _never_block_on_close,
    aloop,
    click_toolbar,
    open_saved,
    wait_idle,
    workflow,
)

TOKEN = "panel-token-98765"

CODE = (
    "import json, sys\n"
    "d = json.load(sys.stdin)\n"
    "print('token', d['t'], file=sys.stderr)\n"
    "print(json.dumps({'auth': 'Bearer ' + d['t'], d['t']: 1, 'took': 'took 100 ms'}))\n"
)
FAIL = "import json, sys\nd = json.load(sys.stdin)\nraise SystemExit('rejected ' + d['t'])\n"


@pytest.mark.usefixtures("aloop")
def test_run_details_output_log_and_export_hide_the_secret(
    window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = {"t": "{{ $input.token }}"}
    wf = workflow(
        [{"id": "calc", "type": "python", "config": {"code": CODE, "inputs": inputs}},
         {"id": "bad", "type": "python", "error_mode": "continue",
          "config": {"code": FAIL, "inputs": inputs}}],
        [("start", "calc"), ("start", "bad")],
        inputs={"token": {"default": "", "secret": True}})
    open_saved(window, tmp_path, wf)
    monkeypatch.setattr(run_inputs_dialog, "ask_run_inputs",
                        lambda parent, workflow, remembered: {"token": TOKEN})
    click_toolbar(window, "run", qtbot)
    wait_idle(window, qtbot)
    assert window.live.run.outputs == {} and window.live.run.nodes["calc"].output["auth"] == (
        f"Bearer {TOKEN}")  # the run itself works with the real value

    assert "calc | token ***" in window.output.toPlainText()
    assert TOKEN not in window.output.toPlainText()
    view = window.live.node_view
    window.scene.select_only([window.scene.nodes["calc"]])
    qtbot.waitUntil(lambda: view.current is not None and view.current.node_id == "calc",
                    timeout=3000)
    assert view.current.output == {"auth": "Bearer ***", "***": 1, "took": "took 100 ms"}
    assert view.current.inputs == {"t": "***"}
    shown = view.outputs.tree.copy_text() + view.inputs.tree.copy_text() + view.log.toPlainText()
    assert TOKEN not in shown and "Bearer ***" in shown
    window.grab().save(str(tmp_path / "details.png"))

    window.scene.select_only([window.scene.nodes["bad"]])
    qtbot.waitUntil(lambda: view.current is not None and view.current.node_id == "bad",
                    timeout=3000)
    assert "rejected ***" in view.error.text() and TOKEN not in view.error.text()

    qtbot.waitUntil(lambda: len(window.live.history.runs) == 1, timeout=5000)
    exported = tmp_path / "run.json"
    monkeypatch.setattr(history_panel, "ask_export_path", lambda parent, s: str(exported))
    window.live.history.select_run(0)
    window.live.history.export_selected()
    qtbot.waitUntil(exported.exists, timeout=5000)
    text = exported.read_text()
    assert TOKEN not in text
    assert json.loads(text)["nodes"]["calc"]["output"]["auth"] == "Bearer ***"
