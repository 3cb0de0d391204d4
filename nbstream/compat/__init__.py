"""Compatibility layers: other projects' APIs on nbstream (see :mod:`nbstream.compat.pyflink`)."""
