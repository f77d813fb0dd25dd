"""Submissions: a metric built elsewhere, checked, evaluated with the standard ensemble, and verified by a signed
re-run. Above the benchmark core (it runs the runner), below the leaderboard (which reads its schema and statements)."""
