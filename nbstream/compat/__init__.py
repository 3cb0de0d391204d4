"""Compatibility layers: other projects' APIs on nbstream (see :mod:`nbstream.compat.pyflink`
for PyFlink's DataStream API, :mod:`nbstream.compat.jython` for Flink's old Jython one)."""
