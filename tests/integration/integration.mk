# Integration tests: shell scripts that run real programs under stdfu-sim and print TAP.
# All of them run against the normal build; the sanitizer build runs them too, but for those
# that build their own copy of the tree (the Debian package, a hardened build): once is enough.
BUILD_OWN_TREE_TESTS := tests/integration/test-deb-package.sh tests/integration/test-hardening-flags.sh
# Tests of `make check-long` only: they take too long for every `make check`.
LONG_TESTS := tests/integration/test-kill-random.sh
# The fault matrix runs whole in the normal build, a slice of it (fault-matrix-asan.sh sets
# STDFU_MATRIX_SLICE) in the sanitizer build.
FAULT_MATRIX := tests/integration/test-fault-matrix.sh
INTEGRATION_TESTS += $(filter-out $(LONG_TESTS),$(sort $(wildcard tests/integration/test-*.sh)))
# valgrind and ASan do not mix: test-valgrind.sh runs in the normal build only.
SANITIZER_TESTS   += $(filter-out $(BUILD_OWN_TREE_TESTS) $(LONG_TESTS) $(FAULT_MATRIX) \
                       tests/integration/test-valgrind.sh,$(sort $(wildcard tests/integration/test-*.sh))) \
                     tests/integration/fault-matrix-asan.sh

# SIGKILL at random moments of a multi-device update (minutes): normal build only.
.PHONY: check-long
check-long: deps
	@$(MAKE) --no-print-directory all-targets
	@tests/run-tests --build $(B) $(LONG_TESTS)
