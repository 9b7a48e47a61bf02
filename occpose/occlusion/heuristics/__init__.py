"""The 2D occlusion heuristics of Wang et al. (section 4): ``clustered`` and ``boxed``, and the
per-sequence label sets built from them (``labels``).
"""
