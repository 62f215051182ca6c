"""`python -m bot.dev`: the whole of Recorda on this machine with sandbox
defaults (see bot/dev/stack.py)."""
import sys

from bot.dev.stack import main

if __name__ == "__main__":
    sys.exit(main())
