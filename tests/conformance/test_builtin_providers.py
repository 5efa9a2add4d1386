"""Both built-in providers pass the conformance suite with their shipped cassettes."""

from __future__ import annotations

from realtalk_testing.conformance import conformance_tests, gemini_target, openai_target

test_conformance = conformance_tests(gemini_target(), openai_target())
