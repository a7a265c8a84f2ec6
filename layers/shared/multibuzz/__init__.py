"""Multibuzz: the shared layer. Everything the Lambda functions share lives here.

Nothing in this package performs I/O at import time; dependencies are built by
``multibuzz.bootstrap`` on first use.
"""

__version__ = "0.1.0"
