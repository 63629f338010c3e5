"""Shared test settings: Hypothesis profiles without deadlines (signing time varies by machine).

Select one with HYPOTHESIS_PROFILE=ci|dev (default dev).
"""

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
