/*
 * timefmt.c - UTC civil dates from epoch seconds (Howard Hinnant's
 * civil_from_days), formatted as ISO 8601 and RFC 5322 dates; the same
 * octets as gmtime_r + strftime, without reading /etc/localtime.
 *
 * Must never consult the time zone, the locale or any file, and never
 * write past the caller's buffer.
 */
#include "timefmt.h"

#include <time.h>

#include "buf.h"

#define SECS_PER_DAY 86400

/* floor_div - integer division rounding towards minus infinity */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* civil_from_days - year/month/day of a day count since 1970-01-01 */
static void
civil_from_days(int64_t z, struct civil_time *ct)
{
	int64_t era, doe, yoe, doy, mp, y;

	z += 719468; /* days from 0000-03-01 to 1970-01-01 */
	era = floor_div(z, 146097);
	doe = z - era * 146097; /* [0, 146096] */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* [0, 365], from March 1 */
	mp = (5 * doy + 2) / 153; /* [0, 11], March = 0 */
	ct->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	ct->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	ct->year = (int)(ct->mon <= 2 ? y + 1 : y);
}

/* day_of_year - 0-based day in the year of a civil date */
static int
day_of_year(int year, int mon, int mday)
{
	static const int before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return before[mon - 1] + mday - 1 + (mon > 2 ? leap : 0);
}

int
civil_from_epoch(int64_t t, struct civil_time *ct)
{
	int64_t days, secs;

	if (t < TIMEFMT_MIN || t > TIMEFMT_MAX)
		return -1;
	days = floor_div(t, SECS_PER_DAY);
	secs = t - days * SECS_PER_DAY;
	civil_from_days(days, ct);
	ct->hour = (int)(secs / 3600);
	ct->min = (int)(secs / 60 % 60);
	ct->sec = (int)(secs % 60);
	ct->wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
	if (ct->wday < 0)
		ct->wday += 7;
	ct->yday = day_of_year(ct->year, ct->mon, ct->mday);
	return 0;
}

int
timefmt_iso8601(int64_t t, char *out, size_t outsize)
{
	struct civil_time ct;

	if (civil_from_epoch(t, &ct) < 0)
		return -1;
	return bounded_format(out, outsize, "%d-%02d-%02dT%02d:%02d:%02dZ", ct.year, ct.mon,
	                      ct.mday, ct.hour, ct.min, ct.sec);
}

int
timefmt_rfc5322(int64_t t, char *out, size_t outsize)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct civil_time ct;

	if (civil_from_epoch(t, &ct) < 0)
		return -1;
	return bounded_format(out, outsize, "%s, %d %s %d %02d:%02d:%02d +0000", days[ct.wday],
	                      ct.mday, months[ct.mon - 1], ct.year, ct.hour, ct.min, ct.sec);
}

long long
mono_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
