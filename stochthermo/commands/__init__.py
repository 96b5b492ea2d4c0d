"""Subcommands of the ``stochthermo`` command line (see :mod:`stochthermo.cli`)."""
