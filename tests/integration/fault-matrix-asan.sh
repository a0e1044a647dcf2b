#!/bin/bash
# The slice of test-fault-matrix.sh that the sanitizer build runs (tests/integration/
# integration.mk): the whole matrix runs in the normal build; under ASan a few cells that walk
# every code path of a retry, a recovery and a restart are enough, and take a minute.
export STDFU_MATRIX_SLICE=${STDFU_MATRIX_SLICE:-'^f072/(ctl|daemon)/(write/write-error|leave/leave-vanish|erase/erase-error-always)$|^f407/(ctl|daemon)/verify/stuck-bit$|^f072/daemon/(writing|leaving)/(sigkill|replug)$|^f072/daemon/resume/record-(garbage|directory)$'}
exec "$(dirname "$0")/test-fault-matrix.sh" "$@"
