"""How hard the fuzzers try: the factor ``REALTALK_FUZZ_EXAMPLES_SCALE`` scales every
property (CI keeps 1 so the suite stays fast; the long run in docs/reliability.md raised it).

Every property counts the inputs it tried in :data:`TRIED`, so a run can report them
(``REALTALK_FUZZ_REPORT=path`` appends one JSON line per property at the end).
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

SCALE = float(os.environ.get("REALTALK_FUZZ_EXAMPLES_SCALE", "1"))
TRIED: Counter[str] = Counter()


def budget(examples: int) -> settings:
    """Deterministic settings (derandomized, no example database) for ``examples`` inputs."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
