"""nubo: a virtual infrastructure manager with an OpenNebula-compatible API."""

__version__ = "0.1.0"
