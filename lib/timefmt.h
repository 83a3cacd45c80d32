/*
 * timefmt.h - UTC dates from epoch seconds, without the time zone
 * machinery (gmtime_r makes glibc read /etc/localtime once per process),
 * and the monotonic clock in milliseconds for deadlines
 */
#ifndef MAILOUT_TIMEFMT_H
#define MAILOUT_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* the instants timefmt handles: 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
#define TIMEFMT_MIN ((int64_t)-62167219200LL)
#define TIMEFMT_MAX ((int64_t)253402300799LL)

/* a UTC civil time; mon 1-12, wday 0 = Sunday, yday 0-365 */
struct civil_time {
	int year, mon, mday, hour, min, sec, wday, yday;
};

/* civil_from_epoch - the UTC civil time of t; -1 if t is out of range */
int civil_from_epoch(int64_t t, struct civil_time *ct);
/* timefmt_iso8601 - "2025-11-24T16:00:00Z" (strftime's %Y-%m-%dT%H:%M:%SZ);
 * -1 if out of range or truncated */
int timefmt_iso8601(int64_t t, char *out, size_t outsize);
/* timefmt_rfc5322 - "Mon, 24 Nov 2025 16:00:00 +0000"; -1 as above */
int timefmt_rfc5322(int64_t t, char *out, size_t outsize);

/* mono_ms - CLOCK_MONOTONIC in milliseconds (0 if it cannot be read):
 * for deadlines and timeouts, never for dates */
long long mono_ms(void);

#endif
