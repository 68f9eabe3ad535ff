"""Suite-wide setup.

Hypothesis: locally each run draws new examples (so properties keep hunting for bugs); under CI
(CI=true) examples are derandomized, so a submission's result does not depend on luck. A
failure found locally is minimized and printed; fix it, don't widen the strategy to dodge it.

Without hypothesis installed (a light environment running only data tests such as
test_published.py) there is nothing to set up; the property tests then fail at their imports.
"""

import os

try:
    from hypothesis import settings
except ImportError:
    settings = None

if settings is not None:
    settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
    settings.register_profile("dev", deadline=None)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")
