"""Occluders: their geometry (``geometry``), sampling of shapes and furniture (``sampling``,
``furniture``), motion and the stage between camera and subject (``motion``, ``stage``), user
meshes (``user_meshes``) and the placement that hits a target occlusion level (``placement``).
"""
