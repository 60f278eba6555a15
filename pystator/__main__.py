"""``python -m pystator`` runs the command line."""

import sys

from pystator.cli import main

sys.exit(main())
