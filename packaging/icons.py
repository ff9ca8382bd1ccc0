"""Render the app icon (an SVG) to PNG sizes, a Windows .ico and a macOS .iconset.

Runs inside the build venv (it needs PySide6) with Qt's offscreen platform, so no display,
ImageMagick or Inkscape is required on any build machine.  Called by build.py::

    python packaging/icons.py SVG OUTDIR
        -> OUTDIR/png/<size>.png, OUTDIR/nopflow.ico, OUTDIR/nopflow.iconset/icon_*.png
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

#: hicolor sizes for Linux; .ico carries the Windows shell sizes; the .iconset Apple's.
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICONSET = {  # file name -> pixel size, as iconutil expects
    "icon_16x16.png": 16, "icon_16x16@2x.png": 32, "icon_32x32.png": 32,
    "icon_32x32@2x.png": 64, "icon_128x128.png": 128, "icon_128x128@2x.png": 256,
    "icon_256x256.png": 256, "icon_256x256@2x.png": 512, "icon_512x512.png": 512,
    "icon_512x512@2x.png": 1024,
}


def render_pngs(svg: Path, sizes: list[int]) -> dict[int, bytes]:
    """PNG bytes of `svg` at each size (square, transparent, aspect ratio kept)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"icons.py: cannot render {svg}")
    vb = renderer.viewBoxF()
    out: dict[int, bytes] = {}
    for size in sorted(set(sizes)):
        img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(Qt.GlobalColor.transparent)
        painter = QPainter(img)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        scale = size / max(vb.width(), vb.height(), 1e-9)
        w, h = vb.width() * scale, vb.height() * scale
        renderer.render(painter, QRectF((size - w) / 2, (size - h) / 2, w, h))
        painter.end()
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        img.save(buf, "PNG")
        buf.close()
        out[size] = bytes(data.data())
    return out


def write_ico(pngs: dict[int, bytes], path: Path) -> None:
    """A multi-size .ico with PNG-compressed entries (valid since Windows Vista).

    Written by hand because Qt's ICO writer stores a single image.
    """
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for s in sizes:
        data = pngs[s]
        dim = 0 if s >= 256 else s  # 0 means 256 in the directory entry
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    path.write_bytes(header + entries + blobs)


def main(argv: list[str]) -> int:
    """Render everything into OUTDIR (see the module docstring)."""
    if len(argv) != 2:
        print("usage: icons.py SVG OUTDIR", file=sys.stderr)
        return 2
    svg, out = Path(argv[0]), Path(argv[1])
    pngs = render_pngs(svg, [*PNG_SIZES, *ICO_SIZES, *ICONSET.values()])
    (out / "png").mkdir(parents=True, exist_ok=True)
    for s in PNG_SIZES:
        (out / "png" / f"{s}.png").write_bytes(pngs[s])
    write_ico({s: pngs[s] for s in ICO_SIZES}, out / "nopflow.ico")
    iconset = out / "nopflow.iconset"
    iconset.mkdir(exist_ok=True)
    for name, s in ICONSET.items():
        (iconset / name).write_bytes(pngs[s])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
