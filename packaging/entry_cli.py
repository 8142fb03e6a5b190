import sys

from indexer.cli import main
from indexer.exportchild import run_if_asked

run_if_asked(sys.argv)  # started by the bundle itself to export a model apart (indexer/model.py)
sys.exit(main())
