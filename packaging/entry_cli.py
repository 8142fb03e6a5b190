import sys

from indexer.base import isolation
from indexer.cli.main import main
from indexer.model.export_child import run_if_asked

run_if_asked(sys.argv)  # started by the bundle itself to export a model apart (indexer/model/openclip.py)
isolation.run_if_asked(sys.argv)  # or to be a decoding worker (indexer/base/isolation.py)
sys.exit(main())
