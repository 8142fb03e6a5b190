import sys

from indexer.base import isolation
from indexer.cli.main import main
from indexer.model import calibrate_child
from indexer.model.export_child import run_if_asked

run_if_asked(sys.argv)  # started by the bundle itself to export a model apart (indexer/model/openclip.py)
isolation.run_if_asked(sys.argv)  # or to be a decoding worker (indexer/base/isolation.py)
calibrate_child.run_if_asked(sys.argv)  # or to decide the int8 image tower apart (indexer/model/calibrated.py)
sys.exit(main())
