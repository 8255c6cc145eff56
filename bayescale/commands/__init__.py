"""CLI subcommands, one module each (see :mod:`bayescale.cli`)."""
