"""``python -m pystator.cli`` runs the command line, as ``python -m pystator`` does."""

import sys

from pystator.cli import main

sys.exit(main())
