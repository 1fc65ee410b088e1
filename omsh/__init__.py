"""omsh: an SSH shell and a CDMI endpoint over one ZODB object store."""

__version__ = "0.1.0"
