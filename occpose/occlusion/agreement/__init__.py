"""The heuristics scored against the ray-cast truth (``scoring``) and their report (``report``)."""
