"""``python -m benchkit`` (run from scripts/; ``scripts/bench`` does)."""

from __future__ import annotations

import sys

from benchkit.cli import main

sys.exit(main())
