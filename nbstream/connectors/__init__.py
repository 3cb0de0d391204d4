"""Sources and sinks (specs in the plan, readers and writers at run time)."""
