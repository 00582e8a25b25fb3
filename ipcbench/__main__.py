"""python -m ipcbench"""

import sys

from ipcbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
