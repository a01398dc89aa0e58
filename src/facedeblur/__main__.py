"""``python -m facedeblur`` (used with ``torchrun -m facedeblur train ...``)."""

import sys

from .cli import main

sys.exit(main())
