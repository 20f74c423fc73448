"""The version of promptecho: what `__version__` says and what each recording is stamped with."""

VERSION = "0.1.0"
