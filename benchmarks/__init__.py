"""The benchmarks' harnesses, next to the data they replay: recorded pair grids (``worlds``) and the pair-search
replay (``replay``). Not part of the installed package; scripts and tests import them from the repository root."""
