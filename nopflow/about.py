"""What Help → About shows: versions, where data lives, and the licences of what ships.

Qt-free on purpose: the CLI, the tests and the packaging scripts use it without a display,
so Qt and PySide6 versions come from installed metadata, never from importing Qt.
Everything is read from the running installation rather than hard-coded, so a
bundle built with newer dependencies reports them without anyone editing a list:

* the app version comes from its single source, `nopflow.__about__` (the package metadata
  is generated from it, see pyproject `[tool.hatch.version]`);
* bundled components are nopflow's runtime requirement closure, found through
  `importlib.metadata`; a PyInstaller bundle carries those `.dist-info` folders (see
  packaging/nopflow.spec) so the same code works frozen;
* licence texts are the distributions' own licence files (PEP 639 `License-File` or the
  usual LICENSE/COPYING/NOTICE names), with short notices for Python and Qt, whose
  licences are not in any dist-info.

`python -m nopflow.about` prints the same text (handy in bug reports).
"""

from __future__ import annotations

import platform
import re
import sys
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from nopflow.__about__ import __version__

APP_NAME = "nopflow"
HOMEPAGE = "https://github.com/nopflow/nopflow"
_LICENCE_NAME = re.compile(r"(?i)^(licen[cs]e|copying|notice|authors)([._-].*)?$")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

PYTHON_NOTICE = (
    "Python is distributed under the Python Software Foundation License Version 2 "
    "(PSF-2.0). Copyright (c) 2001 Python Software Foundation; All Rights Reserved. "
    "See https://docs.python.org/3/license.html"
)
QT_NOTICE = (
    "Qt is used under the GNU Lesser General Public License v3 (LGPL-3.0-only) through "
    "PySide6 (Qt for Python). The Qt libraries are linked dynamically; an installed copy "
    "can be replaced by a compatible build (they live in the bundle's PySide6/Qt/lib "
    "folder). Source code: https://code.qt.io and https://download.qt.io. Qt includes "
    "third-party components (ICU, HarfBuzz, FreeType, libpng, ...) under their own "
    "permissive licences, listed at https://doc.qt.io/qt-6/licenses-used-in-qt.html"
)


@dataclass(frozen=True)
class Component:
    """One bundled component and its licence."""

    name: str
    version: str
    license: str
    text: str = ""  # full licence text(s) where the distribution ships them
    url: str = ""


@dataclass(frozen=True)
class AboutInfo:
    """Everything the About dialog shows."""

    version: str
    python: str
    qt: str | None
    pyside6: str | None
    platform: str
    frozen: bool
    data_dir: str
    components: list[Component] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (bug reports, `--json` style output)."""
        return asdict(self)


def app_version() -> str:
    """The app version (single source: nopflow/__about__.py)."""
    return __version__


def qt_versions() -> tuple[str | None, str | None]:
    """(Qt version, PySide6 version) from installed metadata, or Nones without PySide6.

    Read from distribution metadata, never by importing Qt: this module serves the CLI and
    the engine side too (docs/architecture.md). PySide6 wheels ship the Qt of their own version;
    the About dialog, which runs inside Qt anyway, shows Qt's own runtime version.
    """
    for dist in ("PySide6-Essentials", "PySide6"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        return version, version
    return None, None


def data_dir() -> Path:
    """Where runs and autosaves live (NOPFLOW_DATA_DIR or the platform's data dir)."""
    from nopflow.storage.locations import data_dir as _data_dir

    return _data_dir()


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    """Names of `dist`'s unconditional requirements (extras and markers for other
    platforms/versions are skipped, as they were when the bundle was installed)."""
    names = []
    for req in dist.requires or []:
        spec, _, marker = req.partition(";")
        if "extra" in marker:
            continue
        if marker.strip() and not _marker_applies(marker):
            continue
        m = _REQ_NAME.match(spec)
        if m:
            names.append(m.group(1))
    return names


def _marker_applies(marker: str) -> bool:
    """Evaluate an environment marker when `packaging` is available; else assume yes."""
    try:
        from packaging.markers import Marker
    except ImportError:
        return True
    try:
        return bool(Marker(marker).evaluate())
    except Exception:
        return True


def _license_of(dist: metadata.Distribution) -> str:
    md = dist.metadata
    expr = md.get("License-Expression")
    if expr:
        return expr.strip()
    lic = (md.get("License") or "").strip()
    if lic and len(lic) <= 120 and "\n" not in lic:
        return lic
    classifiers = [
        c.split("::")[-1].strip()
        for c in md.get_all("Classifier") or []
        if c.startswith("License ::") and c.split("::")[-1].strip() != "OSI Approved"
    ]
    return " / ".join(dict.fromkeys(classifiers)) or "see the distribution"


def _license_texts(dist: metadata.Distribution) -> str:
    """The licence files the distribution ships (PEP 639 `License-File` first)."""
    texts: list[str] = []
    seen: set[str] = set()
    for name in dist.metadata.get_all("License-File") or []:
        for candidate in (f"licenses/{name}", name):
            text = dist.read_text(candidate)
            if text and candidate not in seen:
                seen.add(candidate)
                texts.append(text.strip())
                break
    if not texts:
        for f in dist.files or []:
            if _LICENCE_NAME.match(Path(str(f)).name) and ".dist-info" in str(f):
                try:
                    text = Path(str(dist.locate_file(f))).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                texts.append(text.strip())
    return "\n\n".join(texts)


@cache
def bundled_components(root: str = APP_NAME) -> tuple[Component, ...]:
    """Python, Qt and every installed distribution `root` depends on, with licences."""
    comps: list[Component] = [
        Component("Python", platform.python_version(), "PSF-2.0", PYTHON_NOTICE,
                  "https://www.python.org"),
    ]
    qt, _pyside = qt_versions()
    if qt:
        comps.append(Component("Qt", qt, "LGPL-3.0-only", QT_NOTICE, "https://www.qt.io"))
    seen: set[str] = set()
    todo = [root]
    found: list[Component] = []
    while todo:
        name = todo.pop()
        key = _norm(name)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        todo.extend(_requirement_names(dist))
        if key == _norm(root):
            continue
        md = dist.metadata
        url = md.get("Home-page") or ""
        for entry in md.get_all("Project-URL") or []:
            label, _, link = entry.partition(",")
            if not url or label.strip().lower() in ("homepage", "source", "repository"):
                url = link.strip()
                break
        found.append(Component(md.get("Name") or name, dist.version, _license_of(dist),
                               _license_texts(dist), url))
    comps.extend(sorted(found, key=lambda c: c.name.lower()))
    return tuple(comps)


def about_info() -> AboutInfo:
    """Collect everything for the About dialog (cheap; call when it opens)."""
    qt, pyside = qt_versions()
    return AboutInfo(
        version=app_version(),
        python=f"{platform.python_version()} ({platform.python_implementation()})",
        qt=qt,
        pyside6=pyside,
        platform=platform.platform(terse=True),
        frozen=bool(getattr(sys, "frozen", False)),
        data_dir=str(data_dir()),
        components=list(bundled_components()),
    )


def about_text(include_licences: bool = False) -> str:
    """Plain-text form: the summary, then one line per component (and their texts)."""
    info = about_info()
    lines = [
        f"{APP_NAME} {info.version}",
        f"Python {info.python}" + (", bundled" if info.frozen else ""),
        f"Qt {info.qt or 'not available'}, PySide6 {info.pyside6 or 'not available'}",
        f"Platform {info.platform}",
        f"Data folder {info.data_dir}",
        "",
        "Bundled components:",
    ]
    lines += [f"  {c.name} {c.version} — {c.license}" for c in info.components]
    if include_licences:
        for c in info.components:
            if c.text:
                lines += ["", f"===== {c.name} {c.version} ({c.license}) =====", c.text]
    return "\n".join(lines)


if __name__ == "__main__":
    print(about_text(include_licences="--licences" in sys.argv))
