"""The lazy user API (imports only point down: api -> plan, connectors -> runtime)."""
