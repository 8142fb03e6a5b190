import sys

from desktop.app import main
from indexer.indexing import probe
from indexer.model.export_child import run_if_asked

run_if_asked(sys.argv)  # started by the bundle itself to export a model apart (indexer/model/openclip.py)
probe.run_if_asked(sys.argv)  # or to decode one file apart (indexer/indexing/inflight.py)
sys.exit(main())
