"""docs/architecture.md, checked on the import statements (function-level ones included): which
package may import which, the blocks' public engine API, no import placed inside a function
to dodge a cycle, and no code outside nopflow/blocks/ that recognises a block by its type."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nopflow"
QT = ("PySide6", "shiboken6", "qasync")

#: What a block module may use beyond nopflow.blocks, nopflow.model and nopflow.errors
#: (docs/blocks.md, "The block API"): the context a block runs with, the expression
#: language, the script request it hands to the run's executor, and the sandbox's one rule
#: for paths inside the project folder. None = every name of the module.
BLOCK_API: dict[str, frozenset[str] | None] = {
    "nopflow.engine.compiled": None,
    "nopflow.engine.context": None,
    "nopflow.engine.expressions": None,
    "nopflow.engine.executor": frozenset({"ScriptRequest"}),
    "nopflow.sandbox.paths": frozenset({"SandboxError", "check_inside"}),
}
#: the block package's own interface, which the engine, the UI and the CLI import
BLOCK_INTERFACE = ("nopflow.blocks", "nopflow.blocks.base", "nopflow.blocks.registry",
                   "nopflow.blocks.fields", "nopflow.blocks.schema")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. nopflow.engine.runner
    target: str  # the imported module, e.g. nopflow.storage.locations
    names: tuple[str, ...]  # for `from X import a, b`
    line: int
    in_function: bool
    type_checking: bool

    def __str__(self) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{self.module}:{self.line} imports {self.target}{where}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path) -> list[Import]:
    """Every import statement of a file, with where it sits."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(module, alias.name, (), child.lineno, in_function,
                                        type_checking))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                found.append(Import(module, target, tuple(a.name for a in child.names),
                                    child.lineno, in_function, type_checking))
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True, type_checking)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), in_function, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), in_function, type_checking)
            else:
                visit(child, in_function, type_checking)

    visit(ast.parse(path.read_text(encoding="utf-8")), False, False)
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(i for p in sorted(PACKAGE.rglob("*.py")) for i in imports_of(p))


@cache
def package_modules() -> frozenset[str]:
    return frozenset(module_name(p) for p in PACKAGE.rglob("*.py"))


def targets(imp: Import) -> set[str]:
    """The package modules an import loads: `from a import b` loads a.b when b is a module."""
    out = {imp.target}
    out |= {f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in package_modules()}
    return out


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def runtime_imports(*packages: str) -> list[Import]:
    """Imports executed at run time (not under TYPE_CHECKING) by modules of `packages`."""
    return [i for i in all_imports() if under(i.module, *packages) and not i.type_checking]


# ---------------------------------------------------------------------------- direction


def test_only_the_ui_imports_qt() -> None:
    offenders = [str(i) for i in all_imports()
                 if not under(i.module, "nopflow.ui") and i.target.split(".")[0] in QT]
    assert offenders == []


def test_nothing_below_the_ui_imports_it() -> None:
    offenders = [str(i) for i in all_imports()
                 if under(i.module, "nopflow.engine", "nopflow.model", "nopflow.storage",
                          "nopflow.blocks", "nopflow.sandbox", "nopflow.executors")
                 and under(i.target, "nopflow.ui", "nopflow.cli", "nopflow.cli_run")]
    assert offenders == []


#: engine → storage imports that remain, each with who removes it (the list may only shrink:
#: a stale entry fails `test_engine_waivers_are_still_needed`)
ENGINE_STORAGE_WAIVERS = {
    # the scratch folder of an unsaved workflow; the runner split moves it behind a service
    ("nopflow.engine.runner", "nopflow.storage.locations"),
}


def test_engine_never_imports_storage_ui_or_a_block_module() -> None:
    offenders = []
    for imp in runtime_imports("nopflow.engine"):
        for target in targets(imp):
            if under(target, "nopflow.storage") and (imp.module, target) in \
                    ENGINE_STORAGE_WAIVERS:
                continue
            if under(target, "nopflow.storage", "nopflow.ui", "nopflow.cli") or (
                under(target, "nopflow.blocks") and target not in BLOCK_INTERFACE
            ):
                offenders.append(f"{imp} ({target})")
    assert offenders == []


def test_engine_waivers_are_still_needed() -> None:
    used = {(i.module, t) for i in runtime_imports("nopflow.engine") for t in targets(i)}
    assert ENGINE_STORAGE_WAIVERS <= used, "remove the waivers that are no longer needed"


def test_model_imports_only_the_standard_library_pydantic_and_itself() -> None:
    offenders = [str(i) for i in runtime_imports("nopflow.model")
                 if under(i.target, "nopflow") and not under(
                     i.target, "nopflow.model", "nopflow.errors", "nopflow.resources")]
    assert offenders == []


def test_blocks_use_only_the_engines_public_block_api() -> None:
    offenders = []
    for imp in runtime_imports("nopflow.blocks"):
        for target in targets(imp):
            if not under(target, "nopflow") or under(
                    target, "nopflow.blocks", "nopflow.model", "nopflow.errors",
                    "nopflow.resources"):
                continue
            if target == "nopflow.engine" and set(imp.names) <= set(BLOCK_API_MODULES):
                continue
            allowed = BLOCK_API.get(target, frozenset())
            if target in BLOCK_API and (allowed is None or set(imp.names) <= allowed):
                continue
            offenders.append(f"{imp}: not part of the block API")
    assert offenders == []


BLOCK_API_MODULES = tuple(m.rpartition(".")[2] for m in BLOCK_API if BLOCK_API[m] is None)


def test_sandbox_is_stdlib_only() -> None:
    stdlib = set(sys.stdlib_module_names)
    offenders = [
        str(i) for i in all_imports() if under(i.module, "nopflow.sandbox")
        and i.target.split(".")[0] not in stdlib and i.target != "__future__"
        and not under(i.target, "nopflow.sandbox", "nopflow.errors")
    ]
    assert offenders == []


# --------------------------------------------------------------------- hidden cycles


def module_level_graph() -> dict[str, set[str]]:
    """module -> package modules it loads when imported (parents' __init__ included)."""
    mods = package_modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m in mods:
        parent = m.rpartition(".")[0]
        if parent:
            graph[m].add(parent)
    for imp in all_imports():
        if imp.in_function or imp.type_checking:
            continue
        for target in targets(imp):
            while target and target not in mods:
                target = target.rpartition(".")[0]
            if target and target != imp.module:
                graph[imp.module].add(target)
                parts = target.split(".")
                graph[imp.module].update(".".join(parts[:k]) for k in range(1, len(parts)))
    return graph


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m == goal:
            return True
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return False


#: hidden cycles that remain, each with who removes it (the list may only shrink)
CYCLE_WAIVERS = {
    # the subcommand modules take EXIT_* and first_line from nopflow.cli, which loads them
    # lazily (start-up cost); a shared module for those constants breaks the knot (clifiles)
    ("nopflow.cli", "nopflow.cli_args"),
    ("nopflow.cli", "nopflow.cli_run"),
    ("nopflow.cli", "nopflow.cli_history"),
    ("nopflow.cli", "nopflow.cli_creds"),
    ("nopflow.cli", "nopflow.cli_envs"),
    # the dask client starts the worker service on a local cluster lazily (the extra may be
    # missing); the package re-exports the client
    ("nopflow.executors.dask.client", "nopflow.executors.dask"),
    ("nopflow.executors.dask.client", "nopflow.executors.dask.worker"),
}


def cycle_dodgers() -> list[tuple[str, int, str]]:
    """(module, line, target): function-level imports of a module that loads the importer
    back at import time."""
    graph = module_level_graph()
    out = []
    for imp in all_imports():
        if not imp.in_function or imp.type_checking:
            continue
        for target in targets(imp):
            if target in graph and target != imp.module and reaches(graph, target, imp.module):
                out.append((imp.module, imp.line, target))
    return out


def test_no_function_level_import_dodges_a_cycle() -> None:
    # A lazy import for start-up cost (the CLI loading Qt only for the editor) is fine; one
    # that would be circular at module level hides a layering knot.
    offenders = [f"{m}:{line} imports {t} inside a function, and {t} imports {m} back at "
                 "module level" for m, line, t in cycle_dodgers() if (m, t) not in CYCLE_WAIVERS]
    assert offenders == []


def test_cycle_waivers_are_still_needed() -> None:
    found = {(m, t) for m, _line, t in cycle_dodgers()}
    assert CYCLE_WAIVERS <= found, "remove the waivers that are no longer needed"


def test_the_cycle_check_finds_a_hidden_cycle(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "nopflow"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("from nopflow.a import y\n")
    (pkg / "a" / "y.py").write_text("def f():\n    from nopflow.a import x\n")
    (pkg / "a" / "z.py").write_text("def g():\n    import nopflow.a.y\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    all_imports.cache_clear()
    package_modules.cache_clear()
    try:
        assert cycle_dodgers() == [("nopflow.a.y", 2, "nopflow.a.x")]
    finally:
        all_imports.cache_clear()
        package_modules.cache_clear()


# ------------------------------------------------------------- block types by name


def builtin_type_names() -> set[str]:
    from nopflow.blocks.registry import BUILTIN, _resolve

    return {_resolve(ref).type for ref in BUILTIN}


TYPE_HOLDERS = {"type", "block_type", "type_name", "node_type", "type_"}


def _holds_a_type(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in TYPE_HOLDERS) or (
        isinstance(node, ast.Name) and node.id in TYPE_HOLDERS - {"type"})


def _type_constants(node: ast.expr, names: set[str]) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & names
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant)
                and isinstance(e.value, str)} & names
    return set()


def type_checks(source: str, names: set[str]) -> list[tuple[int, str]]:
    """Places that recognise a block by its type name: `x.type == "loop"`, `block_type in
    ("start", …)`, `get_block("python")`, `match node.type: case "output"`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_holds_a_type(o) for o in operands):
                for o in operands:
                    for name in _type_constants(o, names):
                        found.append((node.lineno, name))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if fname in ("get_block", "layout_for", "block_origin"):
                found += [(node.lineno, n) for n in _type_constants(node.args[0], names)]
        elif isinstance(node, ast.Match) and _holds_a_type(node.subject):
            for case in node.cases:
                for sub in ast.walk(case.pattern):
                    if isinstance(sub, ast.MatchValue):
                        found += [(node.lineno, n) for n in _type_constants(sub.value, names)]
    return found


def test_the_type_check_finder_finds_checks_and_ignores_words() -> None:
    names = {"start", "loop", "python", "output"}
    source = (
        "if cn.node.type == 'loop': pass\n"
        "ok = rec.type != 'output'\n"
        "b = node.type in ('start', 'python')\n"
        "c = block_type == 'python'\n"
        "d = get_block('loop')\n"
        "match node.type:\n    case 'start': pass\n"
        # words, not type checks:
        "kind = 'output' if x else 'input'\n"
        "rec = {'output': 1}\n"
        "if 'loop' in roots: pass\n"
        "if port.kind == 'output': pass\n"
        "verb = 'start'\n"
    )
    assert sorted(type_checks(source, names)) == [
        (1, "loop"), (2, "output"), (3, "python"), (3, "start"), (4, "python"), (5, "loop"),
        (6, "start")]


#: type checks that remain outside nopflow/blocks/, each with who removes it
TYPE_CHECK_WAIVERS: set[tuple[str, str]] = set()


def test_nothing_outside_blocks_recognises_a_block_by_its_type() -> None:
    names = builtin_type_names()
    assert {"start", "loop", "python", "output"} <= names
    offenders = [
        f"{p.relative_to(PACKAGE.parent)}:{line} checks for block type '{name}'"
        for p in sorted(PACKAGE.rglob("*.py")) if PACKAGE / "blocks" not in p.parents
        for line, name in type_checks(p.read_text(encoding="utf-8"), names)
        if (module_name(p), name) not in TYPE_CHECK_WAIVERS
    ]
    assert offenders == []


# -------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("argv", [["--version"], ["validate", "EXAMPLE"]])
def test_headless_commands_load_no_qt_and_version_loads_no_blocks(argv: list[str],
                                                                  tmp_path: Path) -> None:
    example = PACKAGE.parent / "resources" / "examples" / "parallel-stats.nopflow.json"
    args = [str(example) if a == "EXAMPLE" else a for a in argv]
    code = (
        "import sys\nfrom nopflow.cli import main\n"
        "try:\n"
        f"    rc = main({args!r})\n"
        "except SystemExit as exc:\n"
        "    rc = exc.code\n"
        "qt = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync'))\n"
        "blocks = sorted(m for m in sys.modules if m.startswith('nopflow.blocks.')\n"
        "                and m not in ('nopflow.blocks.base', 'nopflow.blocks.registry'))\n"
        "print(rc, qt, len(blocks))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    rc, qt, blocks = res.stdout.strip().rsplit("\n", 1)[-1].split(" ", 2)
    assert (rc, qt) == ("0", "[]"), res.stdout + res.stderr
    if argv == ["--version"]:
        assert blocks == "0", "nopflow --version must not discover blocks"
    else:
        assert int(blocks) >= 8


def test_headless_run_loads_no_qt(tmp_path: Path) -> None:
    # The CLI path end to end: run a shipped example, then check no Qt module was loaded.
    example = PACKAGE.parent / "resources" / "examples" / "parallel-stats.nopflow.json"
    code = (
        "import sys\nfrom nopflow.cli import main\n"
        f"rc = main(['run', {str(example)!r}, '-q'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync'))\n"
        "print(rc, loaded)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.stdout.strip() == "0 []", res.stdout + res.stderr
