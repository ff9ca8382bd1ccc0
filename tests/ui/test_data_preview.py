"""Run details' data preview (issue 18 item 7, issue 14 item 7): a list of objects in a node's
output is a sortable table, the JSON tree one click away, bounded for large outputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from nopflow.ui.live import data_preview, run_inputs_dialog
from nopflow.ui.live.node_run_view import NodeRunView, NodeView

from .test_live_run import (  # noqa: F401  (fixtures)
    _never_block_on_close,
    aloop,
    wait_idle,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def shown(table: data_preview.DataTable) -> list[list[str]]:
    """The table as the user reads it: header row, then each shown row's cells."""
    model = table.view.model()
    cols = model.columnCount()
    header = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(cols)]
    return [header] + [[model.index(r, c).data() for c in range(cols)]
                       for r in range(model.rowCount())]


def click_header(table: data_preview.DataTable, qtbot, column: int) -> None:  # type: ignore[no-untyped-def]
    header = table.view.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))


def test_sql_rows_of_a_real_run_show_as_a_sortable_table(window, qtbot, aloop, tmp_path,  # noqa: F811
                                                          monkeypatch):
    # the run-inputs form is answered with the example's defaults, as OK would
    monkeypatch.setattr(run_inputs_dialog, "ask_run_inputs",
                        lambda parent, workflow, remembered: remembered)
    work = tmp_path / "examples"
    shutil.copytree(EXAMPLES, work)
    assert window.open_file(str(work / "sql.nopflow.json"), ask=False)
    window.run_actions["run"].trigger()
    wait_idle(window, qtbot)
    assert window.live.run.state.value == "completed"
    window.scene.select_only([window.scene.nodes["best"]])
    view = window.live.node_view
    qtbot.waitUntil(lambda: view.current is not None and view.current.node_id == "best",
                    timeout=3000)
    box = view.outputs
    assert box.pages.currentWidget() is box.table and box.table_button.isVisible()
    assert box.table.caption.text().startswith("rows: 3 rows × 3 columns")
    assert shown(box.table) == [["customer", "orders", "total"], ["Grace", "2", "283.5"],
                                ["Ada", "3", "203.0"], ["Barbara", "1", "149.0"]]
    click_header(box.table, qtbot, 1)  # orders, ascending: numbers compare as numbers
    assert [r[0] for r in shown(box.table)[1:]] == ["Barbara", "Grace", "Ada"]
    click_header(box.table, qtbot, 1)  # again: descending
    assert [r[0] for r in shown(box.table)[1:]] == ["Ada", "Grace", "Barbara"]
    # the JSON tree is one click away, with the whole output
    qtbot.mouseClick(box.tree_button, Qt.MouseButton.LeftButton)
    assert box.pages.currentWidget() is box.tree
    keys = [box.tree.topLevelItem(i).text(0) for i in range(box.tree.topLevelItemCount())]
    assert keys == ["rows", "rowcount", "columns"]
    qtbot.mouseClick(box.table_button, Qt.MouseButton.LeftButton)
    assert box.pages.currentWidget() is box.table
    # a statement that returns no columns (CREATE TABLE) has no table: the tree shows
    window.scene.select_only([window.scene.nodes["table"]])
    qtbot.waitUntil(lambda: view.current.node_id == "table", timeout=3000)
    assert box.pages.currentWidget() is box.tree and box.table_button.isHidden()


def test_an_http_json_list_and_a_double_click_into_the_tree(qtbot):  # type: ignore[no-untyped-def]
    stations = [{"city": "Lisbon", "temp_c": 17.2}, {"city": "Cairo", "temp_c": 24.8},
                {"city": "Quito", "temp_c": 13.9, "note": {"alt_m": 2850}}]
    view = NodeRunView()
    qtbot.addWidget(view)
    view.resize(460, 640)
    view.show()
    qtbot.waitExposed(view)
    view.show_view(NodeView("stations", output={
        "status": 200, "headers": {"content-type": "application/json"}, "body": stations,
        "url": "http://127.0.0.1:1/stations", "elapsed_ms": 3.0}, state="success"))
    box = view.outputs
    assert box.table.caption.text().startswith("body: 3 rows × 3 columns")
    assert shown(box.table) == [["city", "temp_c", "note"], ["Lisbon", "17.2", ""],
                                ["Cairo", "24.8", ""], ["Quito", "13.9", '{"alt_m": 2850}']]
    click_header(box.table, qtbot, 1)
    assert [r[0] for r in shown(box.table)[1:]] == ["Quito", "Lisbon", "Cairo"]
    model = box.table.view.model()
    rect = box.table.view.visualRect(model.index(2, 0))  # Cairo, row 2 of the output
    # Qt's test double-click needs the press/release before it, as a real one has
    qtbot.mouseClick(box.table.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(box.table.view.viewport(), Qt.MouseButton.LeftButton,
                      pos=rect.center())
    assert box.pages.currentWidget() is box.tree
    current = box.tree.currentItem()
    assert current.text(0) == "[1]" and current.parent().text(0) == "body"
    assert current.isExpanded()
    # a value with no list of objects has no table at all
    view.show_view(NodeView("calc", output={"n": 42, "tags": ["a", "b"]}, state="success"))
    assert box.pages.currentWidget() is box.tree and box.table_button.isHidden()


def test_a_large_output_is_bounded_but_sorted_whole(qtbot):  # type: ignore[no-untyped-def]
    n = 50_000
    rows = [{"i": i, "score": (i * 7919) % n} for i in range(n)]
    rows[-1]["score"] = 10 * n  # the biggest value is the very last row
    view = NodeRunView()
    qtbot.addWidget(view)
    view.show_view(NodeView("big", output=rows, state="success"))
    table = view.outputs.table
    assert table.view.model().rowCount() == data_preview.MAX_ROWS
    assert "50,000 rows × 2 columns — showing the first 10,000" in table.caption.text()
    click_header(table, qtbot, 1)
    click_header(table, qtbot, 1)  # descending
    model = table.view.model()
    assert model.index(0, 1).data() == str(10 * n)
    assert model.headerData(0, Qt.Orientation.Vertical) == str(n)  # its place in the output
    # Copy all rows as CSV gives every row, in the shown order
    csv_text = model.csv_text().splitlines()
    assert len(csv_text) == n + 1 and csv_text[1] == f"{n - 1},{10 * n}"


def test_finding_rows_by_shape() -> None:
    find = data_preview.find_rows
    assert find([{"a": 1}]).path == ""
    assert find({"path": "x.csv", "content": [{"a": "1"}], "size": 4}).path == "content"
    assert find({"result": {"items": [{"a": 1}]}}).path == "result.items"
    empty = find({"rows": [], "rowcount": 0, "columns": ["id", "name"]})
    assert empty is not None and empty.columns == ["id", "name"] and empty.rows == []
    assert find([1, 2, 3]) is None and find({"rows": []}) is None and find("text") is None
    mixed = find([{"a": 1}, {"b": 2, "a": None}])
    assert mixed.columns == ["a", "b"]


def test_screenshot_of_the_table(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    """Rendered for a look (kept under tmp_path); the image is not empty."""
    view = NodeRunView()
    qtbot.addWidget(view)
    view.resize(460, 640)
    rows = json.loads((EXAMPLES / "sql.nopflow.json").read_text())["inputs"]["orders"]["default"]
    view.show_view(NodeView("best", title="Best customers", output={
        "rows": rows, "rowcount": len(rows), "columns": ["id", "customer", "item", "amount"]},
        state="success", duration_ms=4))
    view.show()
    QApplication.processEvents()
    shot = tmp_path / "data-preview.png"
    assert view.grab().save(str(shot))
    assert shot.stat().st_size > 5_000
