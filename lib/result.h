/*
 * result.h - the three outcomes of anything mail does
 *
 * Our own trouble (disk, memory, config, DNS timeout) is always RES_TEMP.
 */
#ifndef MAILOUT_RESULT_H
#define MAILOUT_RESULT_H

enum result {
	RES_OK = 0,
	RES_TEMP = 1, /* try again later: 4xx, exit 75 */
	RES_PERM = 2, /* will never work: 5xx, exit 69 */
};

#endif
