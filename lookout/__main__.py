import sys

from lookout.bot.cli import main

sys.exit(main())
