"""Per-script Python environments from PEP 723 headers, locked and built with uv.

``prepare`` (before a run: lock, build, map header → interpreter), ``store`` (the built
environments in the data dir, their collection), ``uvcli`` (the uv command lines).
See docs/script-packages.md.
"""
