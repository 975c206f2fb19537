"""Importing this module makes the data builders in scripts/data importable (they are scripts, not a package)."""

import os
import sys

BUILDERS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "data"))
if BUILDERS not in sys.path:
    sys.path.insert(0, BUILDERS)
