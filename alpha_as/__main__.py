import sys

from alpha_as.cli import main

sys.exit(main())
