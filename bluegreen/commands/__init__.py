"""One module per sub-command, each building a CommandSpec (see base.py); bluegreen/registry.py lists them."""
