"""``python -m audioid_gui [PROJECT]`` opens the window."""
import sys

if __name__ == "__main__":
    from audioid_gui.gui.app import main

    sys.exit(main())
