"""Makes `nin_torch` importable when pytest runs from anywhere (the engine is not installed)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
