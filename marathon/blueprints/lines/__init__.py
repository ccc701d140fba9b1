"""The waiting lines: Redis keys, Lua scripts, the engine (join, status, leave), the runner's place, queue routes."""
