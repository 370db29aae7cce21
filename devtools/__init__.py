"""Tools for developers shared by the test suite and bench/ (never shipped in the package)."""
