"""Hypothesis profiles: `default` (a few hundred examples a test, the whole set in about a minute),
`large` (thousands: `HYPOTHESIS_PROFILE=large python -m pytest tests/property`)."""

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                      HealthCheck.data_too_large], print_blob=True)
settings.register_profile("default", max_examples=100, **_COMMON)
settings.register_profile("large", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
