"""``python -m kampai`` runs the ``runner`` CLI."""

from kampai.core.cli import main

if __name__ == "__main__":
    main()
