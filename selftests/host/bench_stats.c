// SPDX-License-Identifier: GPL-2.0
/*
 * The statistics of sigwake-bench (bench/stats.h) on fixed inputs.  The
 * expected values were computed independently (Python: statistics.stdev
 * and the t quantile by numerical integration of Student's density).
 * Prints TAP lines without a plan; bench_test.sh adds it.
 */
#include <math.h>
#include <stdio.h>

#include "../../bench/stats.h"

static int n_test, failed;

static void check(const char *what, double got, double want, double tol)
{
	int ok = fabs(got - want) <= tol;

	printf("%sok %d - %s: %.6f (expected %.6f)\n", ok ? "" : "not ",
	       ++n_test, what, got, want);
	failed += !ok;
}

static void check_ci(const char *what, const double *r, int n, double value,
		     double lo, double hi)
{
	struct ratio_ci c = ratio_ci(r, n);
	char buf[128];

	snprintf(buf, sizeof(buf), "%s: geometric mean", what);
	check(buf, c.value, value, 1e-5);
	snprintf(buf, sizeof(buf), "%s: 95%% interval, low", what);
	check(buf, c.lo, lo, lo * 1e-5);
	snprintf(buf, sizeof(buf), "%s: 95%% interval, high", what);
	check(buf, c.hi, hi, hi * 1e-5);
}

int main(void)
{
	double v[] = { 5, 1, 4, 2, 3, 9, 8, 7, 6, 10 };
	double r5[] = { 1.10, 1.25, 1.05, 1.18, 1.30 };
	double r5inv[5];
	double r2[] = { 2.0, 0.5 };
	double r10[] = { 0.8, 0.9, 1.0, 1.1, 1.2, 0.95, 1.05, 0.85, 1.15, 1.0 };
	double bad[] = { 1.0, 0.0, 1.2 };
	double big[200];
	struct stats s;
	struct ratio_ci c;
	int i;

	s = summarize(v, 10);
	check("median of 1..10", s.median, 5.5, 0);
	check("p99 of 1..10 (nearest rank)", s.p99, 10, 0);
	check("mean of 1..10", s.mean, 5.5, 1e-12);
	check("min", s.min, 1, 0);
	check("max", s.max, 10, 0);
	for (i = 0; i < 200; i++)
		big[i] = 200 - i;
	s = summarize(big, 200);
	check("p99 of 1..200 is the 198th", s.p99, 198, 0);
	check("median of 1..200", s.median, 100.5, 0);
	s = summarize(v, 5);
	check("median of an odd count", s.median, 3, 0);

	check("t(0.975, 1)", t975(1), 12.706205, 1e-6);
	check("t(0.975, 4)", t975(4), 2.776445, 1e-6);
	check("t(0.975, 9)", t975(9), 2.262157, 1e-6);
	check("t(0.975, 30)", t975(30), 2.042272, 1e-6);
	check("t(0.975, 31), expansion", t975(31), 2.039513, 1e-5);
	check("t(0.975, 45), expansion", t975(45), 2.014103, 1e-5);
	check("t(0.975, 100), expansion", t975(100), 1.983972, 1e-5);

	check_ci("5 runs", r5, 5, 1.172367, 1.050892, 1.307883);
	check_ci("2 runs", r2, 2, 1.0, 0.000149641225, 6682.65046);
	check_ci("10 runs", r10, 10, 0.992416, 0.903873, 1.089632);

	/* The inverse ratios get the inverse interval. */
	for (i = 0; i < 5; i++)
		r5inv[i] = 1 / r5[i];
	c = ratio_ci(r5inv, 5);
	check("inverse ratios: low is 1 / high", c.lo, 1 / 1.307883, 1e-5);
	check("inverse ratios: high is 1 / low", c.hi, 1 / 1.050892, 1e-5);

	c = ratio_ci(r5, 1);
	check("1 run: the value", c.value, 1.10, 1e-12);
	printf("%sok %d - 1 run: no interval\n",
	       isnan(c.lo) && isnan(c.hi) ? "" : "not ", ++n_test);
	failed += !(isnan(c.lo) && isnan(c.hi));
	c = ratio_ci(bad, 3);
	printf("%sok %d - a zero ratio gives no value\n",
	       isnan(c.value) ? "" : "not ", ++n_test);
	failed += !isnan(c.value);
	c = ratio_ci(r5, 0);
	printf("%sok %d - no run gives no value\n",
	       isnan(c.value) ? "" : "not ", ++n_test);
	failed += !isnan(c.value);
	return failed ? 1 : 0;
}
