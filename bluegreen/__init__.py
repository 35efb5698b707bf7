"""bluegreen: blue-green releases on AWS with Pulumi.

The components (`bluegreen.components`, e.g. `BlueGreenService`) are for Pulumi programs; the
release tool is the `bluegreen` command (`python -m bluegreen`). Importing this package loads
neither Pulumi nor boto3.
"""

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bluegreen.components.service import BlueGreenService, BlueGreenServiceArgs

# Loaded on first use, so `import bluegreen` (and the release tool) stays free of Pulumi.
_LAZY = {
    "BlueGreenService": "bluegreen.components.service",
    "BlueGreenServiceArgs": "bluegreen.components.service",
}

__all__ = ["BlueGreenService", "BlueGreenServiceArgs", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bluegreen' has no attribute {name!r}")
