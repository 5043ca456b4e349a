#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# model_test.sh: the spin model of the per-thread protocol (model/).
#
# Runs model/run.sh, the checks of `make model`: every scenario of
# model/sigwake.pml and model/post_any.pml verifies with no error in an
# exhaustive search, and each model with a fixed defect put back makes spin
# find the loss.  Its TAP results are this test's.  pan is built under
# build/host/model, never in the source tree.  Skipped when spin is not
# installed (scripts/deps.sh installs it for `make check`).
set -u
. "$(dirname "$0")/lib.sh"

command -v spin >/dev/null || tap_skip_all "spin is not installed (apt-get install spin)"
command -v "${CC:-gcc}" >/dev/null || tap_skip_all "no C compiler"

exec bash "$TOP/model/run.sh" "${MODEL_BUILD:-$TOP/build/host/model}"
