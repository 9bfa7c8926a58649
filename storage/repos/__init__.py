"""Repositories: the only code that reads and writes tables. One module per feature."""
