#!/usr/bin/env python
"""The example blog behind edgecache: `make dev DJANGO=1` from the repository's root."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "blogsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
