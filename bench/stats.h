/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The statistics of sigwake-bench, in a header of their own so that a host
 * test (selftests/host/bench_test.sh) checks them on fixed inputs.
 *
 * Per technique: median, nearest-rank p99, mean, min, max of the samples.
 * Per paired ratio: one ratio per run (the median of technique A in that
 * run over the median of technique B in the same run, A and B having taken
 * turns in it), summarised by their geometric mean and a 95% confidence
 * interval from Student's t over the logarithms of the per-run ratios:
 *
 *	m = mean(ln r_i), s = sd(ln r_i) (n - 1), h = t(0.975, n - 1) s / sqrt(n)
 *	value = exp(m), interval = [exp(m - h), exp(m + h)]
 *
 * Logarithms, because a ratio and its inverse then get the same interval
 * (inverted), and a ratio is bounded below by 0 but not above.
 */
#ifndef SIGWAKE_BENCH_STATS_H
#define SIGWAKE_BENCH_STATS_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

struct stats {
	size_t n;
	double median, p99, mean, min, max;
};

static int stats_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted @v. */
static double stats_pct(const double *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* Sorts @v in place. */
static struct stats summarize(double *v, size_t n)
{
	struct stats s = { .n = n };
	double sum = 0;
	size_t i;

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), stats_cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.p99 = stats_pct(v, n, 99);
	s.mean = sum / (double)n;
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

/* The 0.975 quantile of Student's t with @df degrees of freedom. */
static double t975(int df)
{
	static const double tab[] = {
		0, 12.706205, 4.302653, 3.182446, 2.776445, 2.570582,
		2.446912, 2.364624, 2.306004, 2.262157, 2.228139, 2.200985,
		2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816,
		2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658,
		2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230,
		2.042272,
	};
	const double z = 1.959963985;
	double d = df, z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;

	if (df < 1)
		return NAN;
	if (df < (int)(sizeof(tab) / sizeof(tab[0])))
		return tab[df];
	/* Cornish-Fisher expansion: within 1e-5 of the quantile from 31 on. */
	return z + (z3 + z) / (4 * d) +
	       (5 * z5 + 16 * z3 + 3 * z) / (96 * d * d) +
	       (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * d * d * d);
}

struct ratio_ci {
	int n;			/* per-run ratios used */
	double value;		/* their geometric mean */
	double lo, hi;		/* 95% interval; NAN with fewer than 2 */
};

/* Summarise @n per-run ratios (all > 0; others make the result NAN). */
static struct ratio_ci ratio_ci(const double *r, int n)
{
	struct ratio_ci c = { .n = n, .value = NAN, .lo = NAN, .hi = NAN };
	double m = 0, ss = 0, h;
	int i;

	for (i = 0; i < n; i++) {
		if (!(r[i] > 0) || isinf(r[i]))
			return c;
		m += log(r[i]);
	}
	if (n < 1)
		return c;
	m /= n;
	c.value = exp(m);
	if (n < 2)
		return c;
	for (i = 0; i < n; i++)
		ss += (log(r[i]) - m) * (log(r[i]) - m);
	h = t975(n - 1) * sqrt(ss / (n - 1)) / sqrt((double)n);
	c.lo = exp(m - h);
	c.hi = exp(m + h);
	return c;
}

#endif /* SIGWAKE_BENCH_STATS_H */
