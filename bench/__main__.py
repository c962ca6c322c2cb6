"""``python -m bench``: the same command line as ``ota-bench``."""

from bench.cli import main

raise SystemExit(main())
