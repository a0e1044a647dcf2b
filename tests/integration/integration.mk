# Integration tests: shell scripts that run real programs under stdfu-sim and print TAP.
# All of them run against the normal build; the sanitizer build runs them too.
INTEGRATION_TESTS += $(sort $(wildcard tests/integration/test-*.sh))
SANITIZER_TESTS   += $(sort $(wildcard tests/integration/test-*.sh))
