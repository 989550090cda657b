"""The core's own exception types, in a leaf module that imports nothing of the package.

Every module may raise these without importing the module that defines a model, a store
or a command, so the import graph keeps running one way.
"""

from __future__ import annotations

__all__ = ["ModelLoadError"]


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message is one line saying what to do."""
