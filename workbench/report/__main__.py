"""``python -m workbench.report``."""

from workbench.report.command import main

if __name__ == "__main__":
    raise SystemExit(main())
