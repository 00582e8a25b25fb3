"""The harness that runs a sweep: case expansion, rounds, one case run per driver process,
resume, progress. (Not named `run`: `ipcbench.run()` is the public API function.)
"""
