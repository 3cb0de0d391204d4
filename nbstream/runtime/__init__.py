"""The runtime: operators, state, timers, watermarks, channels, tasks, job handles, executors."""
