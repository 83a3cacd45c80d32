/*
 * client_state.c - per-client-address counters shared by all sessions
 *
 * What it is for: (being written) see client_state.h.
 * What it must never do: grow without bound.
 */
#include "buf.h"
