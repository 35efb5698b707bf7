"""One module per sub-command; see bluegreen/registry.py for the contract."""
