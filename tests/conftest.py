"""Shared fixtures for the workspace's tests."""

import sys

# Agentflow (10xgraph) needs Python 3.12; the rest of the workspace also runs on 3.11
# (.ci/run tests both). On 3.11 the integration is not installed, so its tests are not
# collected there; on 3.12 they run, and fail (never skip) if the package is missing.
# (The folder is not called ``agentflow``: a test package of that name would shadow
# Agentflow's own ``agentflow`` import alias.)
collect_ignore_glob = ["agentflow_tests/*"] if sys.version_info < (3, 12) else []
