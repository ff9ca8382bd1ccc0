"""Arguments of the editor form of the command line: `nopflow [FILE] [editor options]`.

Kept outside `nopflow.ui` so parsing never imports Qt; the packaging and UI tests use the
hidden options (`--quit-after`, `--screenshot`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

#: Filled by `parse_editor_args`; the UI reads it when it starts.
EDITOR_OPTIONS: dict[str, object] = {}


def parse_editor_args(argv: Sequence[str]) -> str | None:
    """Parse editor options; return the file to open ("" for none) or None on a usage error."""
    parser = argparse.ArgumentParser(prog="nopflow", add_help=False)
    parser.add_argument("file", nargs="?")
    parser.add_argument("--quit-after", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--screenshot", help=argparse.SUPPRESS)
    parser.add_argument("--run-before-screenshot", action="store_true", help=argparse.SUPPRESS)
    try:
        args, unknown = parser.parse_known_args(list(argv))
    except SystemExit:
        return None
    if unknown:
        print(f"nopflow: unknown option {unknown[0]} (see nopflow --help)", file=sys.stderr)
        return None
    if args.file and not os.path.exists(args.file):
        print(f"nopflow: {args.file}: no such file", file=sys.stderr)
        return None
    EDITOR_OPTIONS.update(quit_after=args.quit_after, screenshot=args.screenshot,
                          run_before_screenshot=args.run_before_screenshot)
    return args.file or ""
