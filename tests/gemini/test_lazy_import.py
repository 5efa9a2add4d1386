"""google-genai loads only when a session opens, never at import or registration."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import realtalk, realtalk_gemini, realtalk_gemini.plugin
from realtalk_gemini.provider import GeminiProvider
records = []
realtalk_gemini.plugin.realtalk_register_providers(records.append)
provider = records[0].factory()
assert isinstance(provider, GeminiProvider), provider
assert provider.capabilities.images and provider.capabilities.resumption
assert provider.capabilities.input_sample_rate == 16000
assert provider.capabilities.output_sample_rate == 24000
loaded = sorted(m for m in sys.modules if m.startswith("google.genai") or m == "websockets")
print(",".join(loaded))
"""


def test_importing_and_registering_does_not_load_the_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_provider_satisfies_the_protocol() -> None:
    from realtalk.provider import Provider
    from realtalk_gemini.provider import GeminiProvider

    assert isinstance(GeminiProvider(), Provider)
