"""`python -m workbench`: the `workbench` command, for an environment whose scripts are not on PATH (a
kernel started from `.venv/bin/jupyter` without activating the venv)."""

from workbench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
