"""PyInstaller entry point of the bundled app: one executable for the editor, the CLI and
the script-block sandbox.

A frozen app has no ``python`` on PATH, so the sandbox starts its children as
``sys.executable --sandbox-zygote SOCKFD PPID`` / ``sys.executable --sandbox-worker CTLFD``
(see ``nopflow/sandbox/bootstrap.py``).  Those argv are handled here *first*, before
anything heavy is imported: a zygote that imported Qt or the engine would be slower to
start, hold more memory in every forked script child, and run threads that make fork()
unsafe.

The bootstrap is executed from the real source file that the bundle ships next to the
frozen package (``<bundle>/_internal/nopflow/sandbox/bootstrap.py``) rather than imported
as ``nopflow.sandbox.bootstrap``: importing it through its package would run
``nopflow/sandbox/__init__.py`` (which pulls in asyncio and the runner), and the frozen
copy's code objects carry a relative ``co_filename``, so the bootstrap could not strip its
own frames from the user's tracebacks.  The same file is what a user-chosen interpreter
(``settings.python``) is pointed at, so shipping it is required anyway.
"""

from __future__ import annotations

import sys

SANDBOX_PREFIX = "--sandbox-"


def _bootstrap_main():  # type: ignore[no-untyped-def]
    """Return the bootstrap's ``main``, loaded from its shipped source when present."""
    import os

    base = getattr(sys, "_MEIPASS", None)
    path = os.path.join(base, "nopflow", "sandbox", "bootstrap.py") if base else ""
    if path and os.path.isfile(path):
        import importlib.util

        spec = importlib.util.spec_from_file_location("__nopflow_sandbox_bootstrap__", path)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return module.main
    from nopflow.sandbox.bootstrap import main

    return main


def main() -> int:
    """Dispatch sandbox child modes, else run the normal command line (editor or CLI)."""
    argv = sys.argv[1:]
    if argv and argv[0].startswith(SANDBOX_PREFIX):
        sys.dont_write_bytecode = True  # never try to write __pycache__ into the install dir
        return int(_bootstrap_main()(argv) or 0)
    if "--multiprocessing-fork" in argv or "-c" in argv:
        # A user script's multiprocessing child (spawn/forkserver re-runs sys.executable);
        # PyInstaller's freeze_support runs it and exits. The CLI never uses these flags.
        import multiprocessing

        multiprocessing.freeze_support()
    from nopflow.cli import main as cli_main

    return int(cli_main(argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
