"""Loops: they own optimisers, schedules, devices and checkpoints; the maths lives in algorithms."""
