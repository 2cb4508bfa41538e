"""The `kb` command line (click). `kb.cli.main:main` is the entry point."""
