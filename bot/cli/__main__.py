"""`python -m bot.cli`: the same as `passerelle`."""

from bot.cli.main import main

raise SystemExit(main())
