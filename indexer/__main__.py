"""``python -m indexer``: the same as ``glimpse``."""

import sys

from indexer.cli.main import main

sys.exit(main())
