"""PEP 723 inline script metadata: the packages a Python block's script declares.

A script may start with a ``# /// script`` … ``# ///`` comment block holding TOML with
``dependencies`` and ``requires-python``; nopflow builds an environment for exactly that
set (docs/script-packages.md). Parsing is pure: no files, no network.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from nopflow.errors import NopflowError

#: the reference regular expression of PEP 723
_BLOCK = re.compile(
    r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


class ScriptMetaError(NopflowError):
    """A script header that cannot be used; the message names the line and what to fix."""


@dataclass(frozen=True, slots=True)
class ScriptMeta:
    """The declared packages of one script (normalised: identical sets compare equal)."""

    dependencies: tuple[str, ...]
    requires_python: str | None = None

    @property
    def key(self) -> str:
        """Content key of the set: the lock's entry name, shared by identical headers."""
        doc = {"dependencies": list(self.dependencies), "requires-python": self.requires_python}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> str:
        """The set for people: ``requests>=2, rich``."""
        return ", ".join(self.dependencies) or "no packages"

    def names(self) -> tuple[str, ...]:
        """The distribution names the set asks for (lower-case, normalised)."""
        return tuple(_normal_name(Requirement(d).name) for d in self.dependencies)


def _normal_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def find_header(source: str) -> tuple[int, int, str] | None:
    """(start offset, end offset, TOML text) of the ``script`` block, or None."""
    found = None
    for match in _BLOCK.finditer(source):
        if match.group("type") != "script":
            continue
        if found is not None:
            raise ScriptMetaError(f"line {_line_of(source, match.start())}: a second "
                                  "'# /// script' block (PEP 723 allows one)")
        found = match
    if found is None:
        return None
    toml = "".join(line[2:] if line.startswith("# ") else line[1:]
                   for line in found.group("content").splitlines(keepends=True))
    return found.start(), found.end(), toml


def parse_script_meta(source: str) -> ScriptMeta | None:
    """The script's declared packages, None without a header; `ScriptMetaError` if bad."""
    if "# /// script" not in source:  # the common case, without a regex scan
        return None
    header = find_header(source)
    if header is None:
        return None
    start, _end, toml = header
    line = _line_of(source, start)
    try:
        doc = tomllib.loads(toml)
    except tomllib.TOMLDecodeError as exc:
        raise ScriptMetaError(f"line {line}: the script header is not valid TOML: {exc}") \
            from None
    deps = doc.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ScriptMetaError(f"line {line}: 'dependencies' must be a list of strings, "
                              'like ["requests>=2"]')
    normal = []
    for dep in deps:
        try:
            normal.append(str(Requirement(dep)))
        except InvalidRequirement as exc:
            raise ScriptMetaError(f"line {line}: dependency {dep!r} is not a valid "
                                  f"requirement: {exc}") from None
    requires = doc.get("requires-python")
    if requires is not None:
        try:
            requires = str(SpecifierSet(str(requires)))
        except InvalidSpecifier:
            raise ScriptMetaError(f"line {line}: requires-python {requires!r} is not a "
                                  "version specifier (like \">=3.10\")") from None
    return ScriptMeta(tuple(sorted(set(normal), key=str.lower)), requires)


def with_dependency(source: str, requirement: str) -> str:
    """`source` with `requirement` added to its header (a header is created if missing).

    Raises `ScriptMetaError` for an invalid requirement or a header it cannot edit.
    """
    try:
        req = str(Requirement(requirement.strip()))
    except InvalidRequirement as exc:
        raise ScriptMetaError(f"{requirement!r} is not a valid requirement: {exc}") from None
    meta = parse_script_meta(source)
    header = find_header(source) if meta is not None else None
    if meta is None or header is None:
        block = f'# /// script\n# dependencies = ["{req}"]\n# ///\n'
        return block + ("\n" if source and not source.startswith("\n") else "") + source
    if any(_normal_name(Requirement(d).name) == _normal_name(Requirement(req).name)
           for d in meta.dependencies):
        return source
    start, end, toml = header
    extra = set(tomllib.loads(toml)) - {"dependencies", "requires-python"}
    if extra:
        raise ScriptMetaError(f"the script header also sets {', '.join(sorted(extra))}: "
                              f"add {req!r} to its dependencies by hand")
    deps = [*meta.dependencies, req]
    lines = ["# /// script"]
    if meta.requires_python:
        lines.append(f"# requires-python = {json.dumps(meta.requires_python)}")
    lines.append("# dependencies = [")
    lines += [f"#   {json.dumps(d)}," for d in deps]
    lines += ["# ]", "# ///"]
    return source[:start] + "\n".join(lines) + source[end:]
