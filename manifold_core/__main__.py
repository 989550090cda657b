"""``python -m manifold_core``: the ``manifold`` command."""

from manifold_core.cli import main

if __name__ == "__main__":
    main()
