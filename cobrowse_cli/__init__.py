"""cobrowse-cli: support operations on the Cobrowse.io agent API from the command line."""

__version__ = "0.1.0"
