# Integration tests: shell scripts that run real programs under stdfu-sim and print TAP.
# All of them run against the normal build; the sanitizer build runs them too, but for those
# that build their own copy of the tree (the Debian package, a hardened build): once is enough.
BUILD_OWN_TREE_TESTS := tests/integration/test-deb-package.sh tests/integration/test-hardening-flags.sh
INTEGRATION_TESTS += $(sort $(wildcard tests/integration/test-*.sh))
SANITIZER_TESTS   += $(filter-out $(BUILD_OWN_TREE_TESTS),$(sort $(wildcard tests/integration/test-*.sh)))
