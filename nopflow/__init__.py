"""nopflow: visual workflow automation with a headless engine and a Qt editor."""

from nopflow.__about__ import __version__

__all__ = ["__version__"]
