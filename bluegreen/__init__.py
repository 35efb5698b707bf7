"""bluegreen operator tool: `python -m bluegreen <command>`."""
