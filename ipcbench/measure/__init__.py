"""The measuring side: patterns (parent side and worker role), message checks, latency columns."""
