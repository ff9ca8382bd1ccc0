"""A block's `credential` field: a picker of stored credentials of the right type, with New…,
checked by the compiler (missing name, wrong type)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import Field

from nopflow.blocks import Block, BlockConfig, register, unregister
from nopflow.blocks.fields import credential
from nopflow.engine.compiler import validate
from nopflow.engine.context import NodeContext, NodeResult
from nopflow.model import Edge, Node, Workflow
from nopflow.storage.credentials import CredentialStore, catalog
from nopflow.ui.inspector.fields import CredentialEditor

from .test_inspector import show_node


class CallConfig(BlockConfig):
    credential: str | None = Field(default=None, description="API key",
                                   json_schema_extra=credential("token", "header"))


class CallBlock(Block):
    """A block with a credential field, as http/llm have."""

    type = "test_call"
    title = "Test call"
    Config = CallConfig

    async def run(self, ctx: NodeContext) -> NodeResult:
        return NodeResult({})


@pytest.fixture
def call_block() -> Iterator[None]:
    register(CallBlock)
    yield
    unregister(CallBlock.type)


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials from variables: listed like stored ones, no keyring needed."""
    monkeypatch.setenv("NOPFLOW_CRED_GH_TOKEN", "ghp-abcdef")
    monkeypatch.setenv("NOPFLOW_CRED_DB_USERNAME", "u")
    monkeypatch.setenv("NOPFLOW_CRED_DB_PASSWORD", "pw-123456")


def wf(config: dict) -> Workflow:
    return Workflow(nodes=[Node(id="start", type="start"),
                           Node(id="c", type="test_call", config=config)],
                    edges=[Edge(id="e", source="start", target="c")])


def test_picker_lists_credentials_of_the_accepted_types(window, qtbot, call_block, stored):
    window.set_workflow(wf({}), None)
    form = show_node(window, "c")
    picker = form.fields["credential"]
    assert isinstance(picker, CredentialEditor)
    combo = picker.editor
    qtbot.waitUntil(lambda: combo.count() > 2, timeout=5000)
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts[0] == "(none)" and any(t.startswith("gh ") for t in texts)
    assert not any(t.startswith("db ") for t in texts)  # basic: not accepted here
    assert texts[-1] == "New token or header…"
    index = next(i for i, t in enumerate(texts) if t.startswith("gh "))
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    assert window.doc.nodes["c"].config == {"credential": "gh"}
    window.undo.undo()
    assert window.doc.nodes["c"].config == {}


def test_new_opens_the_dialog_preset_to_the_type(window, qtbot, call_block):
    window.set_workflow(wf({}), None)
    picker = show_node(window, "c").fields["credential"]
    qtbot.waitUntil(lambda: picker.editor.count() >= 2, timeout=5000)
    last = picker.editor.count() - 1
    picker.editor.setCurrentIndex(last)
    picker.editor.activated.emit(last)
    assert picker.dialog.isVisible()
    assert picker.dialog.type_box.currentText() == "token"
    picker.dialog.close()


def test_compiler_checks_name_and_type(call_block, stored):
    problems = [str(p) for p in validate(wf({"credential": "nope"}), credentials=catalog())]
    assert any("node c: config.credential: credential 'nope' does not exist" in p
               for p in problems)
    problems = [str(p) for p in validate(wf({"credential": "db"}), credentials=catalog())]
    assert any("credential 'db' is a basic credential; this field takes token or header" in p
               for p in problems)
    assert validate(wf({"credential": "gh"}), credentials=catalog()) == []
    problems = [str(p) for p in validate(wf({"credential": "{{ $input.c }}"}))]
    assert any("name a stored credential" in p for p in problems)
    assert CredentialStore().get("gh") == ("token", {"token": "ghp-abcdef"})
