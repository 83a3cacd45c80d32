#!/bin/bash
# run-all.sh BUILDDIR - run every test layer against one build, print a summary
#
#   1. unit tests: every BUILDDIR/tests/test_* (cmocka), two at a time
#   2. fuzz targets: built by tests/fuzz.mk, each run for FUZZ_SECONDS
#      (default 5) from its seed corpus tests/fuzz/corpus/NAME, if any
#   3. integration tests: tests/integration/test_*.py with Debian's
#      /usr/bin/python3 and MAILOUT_BIN=BUILDDIR/bin, one file per process,
#      two at a time; files that watch the whole machine run alone at the end
#
# Sanitizers abort on the first error.  Logs go to BUILDDIR/test-logs.
# Exits non-zero if anything failed.  Never writes outside BUILDDIR,
# build/fuzz and temporary directories.
set -u

BUILDDIR=${1:?usage: tests/run-all.sh BUILDDIR}
BUILDDIR=${BUILDDIR%/}
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
JOBS=${JOBS:-2}
PY=/usr/bin/python3
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1

LOGS=$BUILDDIR/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS/unit" "$LOGS/fuzz" "$LOGS/integration" || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
if [ -s tests/lsan.supp ]; then
	export LSAN_OPTIONS="suppressions=$TOP/tests/lsan.supp:print_suppressions=0"
fi
export MAILOUT_BIN=$TOP/$BUILDDIR/bin
case $BUILDDIR in /*) export MAILOUT_BIN=$BUILDDIR/bin ;; esac

total_pass=0
total_fail=0
failed_names=()

# note LAYER PASSED FAILED NAMES... - add to the totals
note() {
	local layer=$1 p=$2 f=$3
	shift 3
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	printf '%-12s %d passed, %d failed\n' "$layer:" "$p" "$f" >>"$LOGS/summary"
	for n in "$@"; do failed_names+=("$layer/$n"); done
}

# run_unit BIN - one cmocka binary; prints "NAME PASSED FAILED"
run_unit() {
	local bin=$1 name log rc p f
	name=$(basename "$bin")
	log=$LOGS/unit/$name.log
	timeout 120 "$bin" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed, sanitizer abort or timeout before its summary
	fi
	echo "$name $p $f $rc"
}
export -f run_unit
export LOGS

unit_layer() {
	local bins=() p=0 f=0 names=() name up uf rc
	shopt -s nullglob
	bins=("$BUILDDIR"/tests/test_*)
	shopt -u nullglob
	echo "== unit tests (${#bins[@]} binaries)"
	if [ ${#bins[@]} -eq 0 ]; then
		note unit 0 0
		return
	fi
	while read -r name up uf rc; do
		p=$((p + up))
		f=$((f + uf))
		if [ "$uf" -ne 0 ]; then
			names+=("$name")
			echo "FAIL $name (exit $rc), log: $LOGS/unit/$name.log"
			tail -n 30 "$LOGS/unit/$name.log"
		else
			echo "ok   $name ($up)"
		fi
	done < <(printf '%s\n' "${bins[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_unit "$1"' _ {})
	note unit "$p" "$f" "${names[@]}"
}

# run_fuzz SRC - build/fuzz/NAME for FUZZ_SECONDS; prints "NAME RC RUNS"
run_fuzz() {
	local src=$1 name bin corpus=() work log rc runs
	name=$(basename "$src" .c)
	bin=build/fuzz/$name
	log=$LOGS/fuzz/$name.log
	work=$(mktemp -d) || return
	if [ -d "tests/fuzz/corpus/${name#fuzz_}" ]; then
		corpus=("tests/fuzz/corpus/${name#fuzz_}")
	elif [ -d "tests/fuzz/corpus/$name" ]; then
		corpus=("tests/fuzz/corpus/$name")
	fi
	# New inputs go to the scratch dir first, never into the repository.
	timeout $((FUZZ_SECONDS + 60)) "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$LOGS/fuzz/artifacts/$name-" "$work" "${corpus[@]}" >"$log" 2>&1
	rc=$?
	rm -rf "$work"
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	echo "$name $rc ${runs:-0}"
}
export -f run_fuzz
export FUZZ_SECONDS

fuzz_layer() {
	local srcs=() p=0 f=0 names=() name rc runs
	echo "== fuzz targets (${FUZZ_SECONDS}s each)"
	if ! make --no-print-directory -j"$JOBS" -f tests/fuzz.mk >"$LOGS/fuzz/build.log" 2>&1; then
		echo "FAIL fuzz build, log: $LOGS/fuzz/build.log"
		grep -E 'error|Error' "$LOGS/fuzz/build.log" | head -n 20
		note fuzz 0 1 build
		return
	fi
	mkdir -p "$LOGS/fuzz/artifacts"
	shopt -s nullglob
	srcs=(tests/fuzz/fuzz_*.c)
	shopt -u nullglob
	if [ ${#srcs[@]} -eq 0 ]; then
		note fuzz 0 0
		return
	fi
	while read -r name rc runs; do
		if [ "$rc" -eq 0 ]; then
			p=$((p + 1))
			echo "ok   $name ($runs runs)"
		else
			f=$((f + 1))
			names+=("$name")
			echo "FAIL $name (exit $rc), log: $LOGS/fuzz/$name.log"
			grep -m1 -A14 -E '^==[0-9]+==ERROR|runtime error|^==[0-9]+== ERROR' "$LOGS/fuzz/$name.log"
			grep -E '^SUMMARY|Test unit written' "$LOGS/fuzz/$name.log"
		fi
	done < <(printf '%s\n' "${srcs[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_fuzz "$1"' _ {})
	note fuzz "$p" "$f" "${names[@]}"
}

# run_integration FILE - one test file; prints "NAME RAN FAILED SKIPPED RC"
run_integration() {
	local file=$1 name log rc ran bad skipped line inner parts part
	name=$(basename "$file" .py)
	log=$LOGS/integration/$name.log
	(cd tests/integration && timeout 600 /usr/bin/python3 -m unittest -v "$name") >"$log" 2>&1
	rc=$?
	ran=$(sed -n 's/^Ran \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	ran=${ran:-0}
	bad=0
	skipped=0
	# The closing line: "OK", "OK (skipped=1, expected failures=2)", "FAILED (failures=1, errors=2)"
	line=$(grep -E '^(OK|FAILED)( \(.*\))?$' "$log" | tail -1)
	case $line in
	*\(*)
		inner=${line#*(}
		inner=${inner%)}
		IFS=',' read -ra parts <<<"$inner"
		for part in "${parts[@]}"; do
			part=${part# }
			case ${part%%=*} in
			failures | errors | "unexpected successes") bad=$((bad + ${part#*=})) ;;
			skipped) skipped=${part#*=} ;;
			esac
		done
		;;
	esac
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1 # did not load, or killed by the timeout
	fi
	echo "$name $ran $bad $skipped $rc"
}
export -f run_integration

# Test files that watch the whole machine (make install must write nothing
# outside DESTDIR, ...) run alone, after the others: listed here, or marked
# with a line "# run-all: serial" in the file.
SERIAL_TESTS=${SERIAL_TESTS:-test_install}

is_serial() {
	local name
	name=$(basename "$1" .py)
	case " $SERIAL_TESTS " in *" $name "*) return 0 ;; esac
	grep -q '^# run-all: serial' "$1"
}

integration_layer() {
	local files=() par=() ser=() p=0 f=0 s=0 names=() name ran bad skipped rc file
	shopt -s nullglob
	files=(tests/integration/test_*.py)
	shopt -u nullglob
	echo "== integration tests (${#files[@]} files, MAILOUT_BIN=$MAILOUT_BIN)"
	if [ ${#files[@]} -eq 0 ]; then
		note integration 0 0
		return
	fi
	for file in "${files[@]}"; do
		if is_serial "$file"; then ser+=("$file"); else par+=("$file"); fi
	done
	while read -r name ran bad skipped rc; do
		p=$((p + ran - bad - skipped))
		[ "$p" -ge 0 ] || p=0
		f=$((f + bad))
		s=$((s + skipped))
		if [ "$bad" -ne 0 ]; then
			names+=("$name")
			echo "FAIL $name ($bad of $ran failed, exit $rc), log: $LOGS/integration/$name.log"
			grep -E '^(FAIL|ERROR):' "$LOGS/integration/$name.log" | head -n 40
		else
			echo "ok   $name ($ran tests, $skipped skipped)"
		fi
	done < <(
		[ ${#par[@]} -eq 0 ] || printf '%s\n' "${par[@]}" |
			xargs -P "$JOBS" -I{} bash -c 'run_integration "$1"' _ {}
		for file in "${ser[@]}"; do run_integration "$file"; done
	)
	note integration "$p" "$f" "${names[@]}"
	[ "$s" -eq 0 ] || echo "integration: $s skipped (see the logs for why)"
}

start=$(date +%s)
unit_layer
fuzz_layer
integration_layer
end=$(date +%s)

echo
echo "== summary ($((end - start))s, logs in $LOGS)"
cat "$LOGS/summary"
for n in "${failed_names[@]}"; do echo "failed: $n"; done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
