"""Credentials in the editor: a run resolves `$creds` and shows only `***`; a workflow that
names a missing credential gets a problem badge that offers to create it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("qasync")

from .test_live_run import (  # noqa: F401  (the fixtures are used by name)
    _never_block_on_close,
    aloop,
    click_toolbar,
    open_saved,
    wait_idle,
    workflow,
)

TOKEN = "editor-cred-token-4242"
CHECK = (
    "import json, sys\n"
    "d = json.load(sys.stdin)\n"
    "print(json.dumps({'match': d['auth'] == 'Bearer editor-cred-' + 'token-4242',"
    " 'auth': d['auth']}))\n"
)


def uses_api() -> object:
    return workflow(
        [{"id": "call", "type": "python",
          "config": {"code": CHECK, "inputs": {"auth": "Bearer {{ $creds.api.token }}"}}}],
        [("start", "call")])


@pytest.mark.usefixtures("aloop")
def test_editor_run_resolves_the_credential_and_shows_it_masked(
    window, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOPFLOW_CRED_API_TOKEN", TOKEN)
    open_saved(window, tmp_path, uses_api())
    click_toolbar(window, "run", qtbot)
    wait_idle(window, qtbot)
    run = window.live.run
    assert run.state.value == "completed"
    assert run.nodes["call"].output["match"] is True
    view = window.live.node_view
    window.scene.select_only([window.scene.nodes["call"]])
    qtbot.waitUntil(lambda: view.current is not None and view.current.node_id == "call",
                    timeout=3000)
    assert view.current.output == {"match": True, "auth": "Bearer ***"}
    shown = view.outputs.tree.copy_text() + view.inputs.tree.copy_text()
    assert TOKEN not in shown and TOKEN not in window.output.toPlainText()


@pytest.mark.usefixtures("aloop")
def test_missing_credential_is_a_problem_that_offers_to_create_it(
    window, qtbot, tmp_path: Path
) -> None:
    open_saved(window, tmp_path, uses_api())
    window.validator.run_now()
    qtbot.waitUntil(lambda: any(p.kind == "credential-missing"
                                for p in window.validator.problems), timeout=5000)
    assert window.scene.nodes["call"].problems  # the node carries the badge
    panel = window.problems
    row = next(panel.topLevelItem(i) for i in range(panel.topLevelItemCount())
               if "does not exist" in panel.topLevelItem(i).text(0))
    assert "double-click to create it" in row.text(0)
    panel.itemDoubleClicked.emit(row, 0)
    dlg = window.credentials_dialog
    assert dlg.isVisible() and dlg.name_edit.text() == "api"
    dlg.close()

    click_toolbar(window, "run", qtbot)
    qtbot.waitUntil(lambda: not window.live.busy, timeout=10_000)
    assert window.live.run is None or window.live.run.nodes["call"].state.value == "pending"
    assert "problem" in window.statusBar().currentMessage()
