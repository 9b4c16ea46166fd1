"""Sub-commands of the `hub` command line, one module per area; cli.py assembles them."""
