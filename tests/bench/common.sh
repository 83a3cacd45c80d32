# shellcheck shell=sh
# common.sh - the start every benchmark script shares; sourced, not run:
#   . "$(dirname "$0")/common.sh"
#   bench_setup DEFAULT_N BUILDDIR PROGRAM...
# sets TOP (the source tree), exports MAILOUT_BIN (BUILDDIR/bin; a
# relative BUILDDIR is taken from TOP) and N (DEFAULT_N unless set),
# checks that each PROGRAM is built, and enters tests/integration, where
# the Python part finds the harness.

# bench_setup - see above; exits 1 when a program is missing
bench_setup() {
	n_default=$1
	builddir=$2
	shift 2
	TOP=$(cd "$(dirname "$0")/../.." && pwd)
	case $builddir in /*) ;; *) builddir=$TOP/$builddir ;; esac
	export MAILOUT_BIN="$builddir/bin" N="${N:-$n_default}"
	for p in "$@"; do
		[ -x "$MAILOUT_BIN/$p" ] || {
			echo "$(basename "$0"): $MAILOUT_BIN/$p is not built (make BUILD=...)" >&2
			exit 1
		}
	done
	cd "$TOP/tests/integration" || exit 1
}
