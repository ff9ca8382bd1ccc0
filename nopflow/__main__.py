"""`python -m nopflow` runs the command line, exactly like the `nopflow` script."""

from nopflow.cli import main

raise SystemExit(main())
