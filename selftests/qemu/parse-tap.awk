# SPDX-License-Identifier: GPL-2.0
#
# Count the results a test VM wrote to its result port.
#
#   awk -v mode=check|demo -v list=<file> -f parse-tap.awk <result.tap>
#
# <file> is the TESTS (or DEMOS) file that went into the VM: programs in it
# that never started count as failures.  <result.tap> is a series of TAP
# documents, one per program, each framed by
#     # sigwake-run: BEGIN <line>
#     # sigwake-run: END rc=<n> time=<s> timeout=<0|1> <line>
# and ended by "# sigwake-run: DONE" when the VM finished normally.
#
# Check mode: "ok" = pass, "ok ... # SKIP" = skip, "not ok" = fail ("not ok
# ... # SKIP" and "# TODO" count as skips, "# XFAIL" as a pass); a program
# that exits non-zero (other than 4, KSFT_SKIP), times out or prints fewer
# results than its plan counts as failure(s).  Demo mode: every program of
# the list is one result, passed if it exited 0 in time and printed no
# "not ok" line; init's own checks (insmod, unload, kmemleak) are no demos
# and count only when they fail.
#
# Prints a line per problem, then "COUNTS <pass> <fail> <skip> <done>".

function trim(s) {
	sub(/^[ \t]+/, "", s)
	sub(/[ \t\r]+$/, "", s)
	gsub(/[ \t]+/, " ", s)
	return s
}

function problem(msg) {
	printf("  FAIL %s\n", msg)
}

function start(name) {
	cur = name
	running = 1
	started[name]++
	plan = -1
	np = nf = ns = 0
}

function finish(rc, secs, timedout, ended,    results, missing, why) {
	results = np + nf + ns
	missing = 0
	why = ""
	if (mode == "demo") {
		if (!(cur in inlist) && ended && rc == 0 && !timedout && !nf) {
			running = 0
			return
		}
		if (!ended || rc != 0 || timedout || nf) {
			if (!ended)
				problem(cur ": did not finish (VM crashed or timed out)")
			else if (timedout)
				problem(cur ": timed out after " secs "s")
			else if (rc != 0)
				problem(cur ": exited with status " rc)
			fail++
		} else
			pass++
		running = 0
		return
	}
	if (plan == 0 && results == 0)
		ns = 1			# "1..0 # SKIP": the whole program skipped
	else if (plan > results)
		missing = plan - results
	else if (plan < 0 && results == 0)
		missing = 1
	if (!ended)
		why = "did not finish (VM crashed or timed out)"
	else if (timedout)
		why = "timed out after " secs "s"
	else if (rc != 0 && rc != 4)
		why = "exited with status " rc
	if (missing) {
		nf += missing
		if (plan < 0)
			problem(cur ": no TAP results" (why ? ", " why : ""))
		else
			problem(cur ": " missing " of " plan " planned results missing" \
				(why ? ", " why : ""))
	} else if (why) {
		if (nf == 0)
			nf = 1
		problem(cur ": " why)
	}
	pass += np; fail += nf; skip += ns
	running = 0
}

BEGIN {
	pass = fail = skip = done = 0
	running = 0
	nlist = 0
	while (list != "" && (getline line < list) > 0) {
		line = trim(line)
		if (line != "" && line !~ /^#/) {
			prog[++nlist] = line
			inlist[line] = 1
		}
	}
}

{ sub(/\r$/, "") }

/^# sigwake-run: BEGIN / {
	if (running)
		finish(0, 0, 0, 0)
	start(trim(substr($0, 22)))
	next
}

/^# sigwake-run: END / {
	rc = $4; sub(/^rc=/, "", rc)
	secs = $5; sub(/^time=/, "", secs)
	to = $6; sub(/^timeout=/, "", to)
	if (running)
		finish(rc + 0, secs, to + 0, 1)
	next
}

/^# sigwake-run: NOTRUN / {
	name = trim(substr($0, 23))
	started[name]++
	fail++
	problem(name ": not run (module not loaded)")
	next
}

/^# sigwake-run: DONE/ { done = 1; next }

!running { next }

/^1\.\.[0-9]+/ {
	if (plan < 0) {
		plan = $0
		sub(/^1\.\./, "", plan)
		sub(/[^0-9].*/, "", plan)
		plan += 0
	}
	next
}

/^(not )?ok([ \t]|$)/ {
	directive = ""
	if (match($0, /#[ \t]*[A-Za-z]+/)) {
		directive = toupper(substr($0, RSTART, RLENGTH))
		sub(/^#[ \t]*/, "", directive)
	}
	directive = substr(directive, 1, 4)
	if (directive == "SKIP" || directive == "TODO")
		ns++
	else if ($1 == "not") {
		nf++
		problem(cur ": " $0)
	} else
		np++
	next
}

END {
	if (running)
		finish(0, 0, 0, 0)
	for (i = 1; i <= nlist; i++)
		if (started[prog[i]]-- <= 0) {
			fail++
			problem(prog[i] ": never started")
		}
	printf("COUNTS %d %d %d %d\n", pass, fail, skip, done)
}
