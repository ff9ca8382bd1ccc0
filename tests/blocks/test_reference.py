"""docs/blocks.md is generated from the block classes and kept in sync (issue 12 item 9)."""

from __future__ import annotations

from pathlib import Path

from nopflow.blocks import get_block
from nopflow.blocks.reference import DEFAULT_TARGET, block_section, reference_markdown
from nopflow.blocks.schema import builtin_blocks

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_committed_reference_is_up_to_date() -> None:
    assert DEFAULT_TARGET == DOCS / "blocks.md"
    assert DEFAULT_TARGET.read_text(encoding="utf-8") == reference_markdown(), (
        "run `python -m nopflow.blocks.reference` to regenerate docs/blocks.md")


def test_reference_lists_ports_fields_types_defaults_and_behaviour() -> None:
    python = block_section(get_block("python"))  # type: ignore[arg-type]
    assert "- Category: Code · version 1 · child process, side effects" in python
    assert "- Ports: in `in` → out `out`" in python
    assert "| `timeout_s` | number > 0, ≤ 86400 | `30.0` | Seconds before it is killed |" \
        in python
    assert "| `code` | text or null (source code, never a template) | `null` |" in python
    delay = block_section(get_block("delay"))  # type: ignore[arg-type]
    assert "| `seconds` | number or text | `1.0` | Seconds to wait ({{ }} allowed) |" in delay
    loop = block_section(get_block("loop"))  # type: ignore[arg-type]
    assert "loop body: `body`" in loop and "out `body`, `done`" in loop
    start = block_section(get_block("start"))  # type: ignore[arg-type]
    assert "entry" in start and "No configuration: `config` is `{}`." in start


def test_every_builtin_block_has_a_section() -> None:
    text = reference_markdown()
    for block in builtin_blocks():
        assert f"## `{block.type}` — {block.title}\n" in text
