import sys

from desktop.app import main
from indexer.model.export_child import run_if_asked

run_if_asked(sys.argv)  # started by the bundle itself to export a model apart (indexer/model/openclip.py)
sys.exit(main())
