import sys

from astromer.cli import main

sys.exit(main())
