"""`python -m bot`: the same as the `lookout` command."""

import sys

from bot.cli import main

sys.exit(main())
