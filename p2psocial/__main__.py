"""`python -m p2psocial` is the `p2psocial` command."""

import sys

from p2psocial.cli.main import main

sys.exit(main())
