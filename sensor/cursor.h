/*
 * cursor - a bounds-checked read cursor over captured packet bytes.
 *
 * Packet bytes are never dereferenced as wire structs (alignment, padding
 * and byte order would all be the compiler's guess): every read goes through
 * a getter that checks it against the end of the captured data, the way
 * tcpdump's GET_* macros do. A read that does not fit sets a sticky error
 * flag, returns 0 and moves the cursor to the end, so every later read fails
 * too; the decoder can read a whole fixed header and test c->err once.
 *
 * Header-only and inline: it runs for every byte of every header.
 */
#ifndef OUTFLOW_CURSOR_H
#define OUTFLOW_CURSOR_H

#include <stddef.h>
#include <stdint.h>

struct cursor {
	const uint8_t *p;	/* next byte to read */
	const uint8_t *end;	/* one past the last readable byte */
	int err;		/* set by the first read that did not fit; sticky */
};

/* Starts a cursor over data[0..len). data may be NULL when len is 0. */
static inline void
cur_init(struct cursor *c, const uint8_t *data, size_t len)
{
	c->p = data;
	c->end = len ? data + len : data;	/* NULL + 0 is UB in C */
	c->err = 0;
}

/* Bytes left to read (0 after an error). */
static inline size_t
cur_left(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
}

/* Current position; only meaningful while c->err is 0. */
static inline const uint8_t *
cur_ptr(const struct cursor *c)
{
	return c->p;
}

/* The failure path of every getter: flag, and make later reads fail too. */
static inline void
cur_fail(struct cursor *c)
{
	c->err = 1;
	c->p = c->end;
}

/* 1 if n more bytes can be read, else sets the error and returns 0. */
static inline int
cur_need(struct cursor *c, size_t n)
{
	if (cur_left(c) < n) {
		cur_fail(c);
		return 0;
	}
	return 1;
}

static inline void
cur_skip(struct cursor *c, size_t n)
{
	if (cur_need(c, n))
		c->p += n;
}

/*
 * Returns a pointer to the next n bytes and steps over them, or NULL (with
 * the error set) if they were not captured. For copying fixed-size fields
 * such as addresses: the caller reads exactly n bytes from the result.
 */
static inline const uint8_t *
cur_take(struct cursor *c, size_t n)
{
	const uint8_t *r = c->p;

	if (!cur_need(c, n))
		return NULL;
	c->p += n;
	return r;
}

static inline uint8_t
cur_peek_u8(struct cursor *c)
{
	if (!cur_need(c, 1))
		return 0;
	return c->p[0];
}

static inline uint8_t
cur_get_u8(struct cursor *c)
{
	if (!cur_need(c, 1))
		return 0;
	return *c->p++;
}

static inline uint16_t
cur_get_be16(struct cursor *c)
{
	uint16_t v;

	if (!cur_need(c, 2))
		return 0;
	v = (uint16_t)(c->p[0] << 8 | c->p[1]);
	c->p += 2;
	return v;
}

static inline uint32_t
cur_get_be32(struct cursor *c)
{
	uint32_t v;

	if (!cur_need(c, 4))
		return 0;
	v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
	    (uint32_t)c->p[2] << 8 | (uint32_t)c->p[3];
	c->p += 4;
	return v;
}

/*
 * Limits the readable bytes to len bytes from base (a position this cursor
 * has passed or is at): used to stop reads at the end of the IP packet so
 * Ethernet padding is never taken for payload. Never extends the range.
 */
static inline void
cur_clip(struct cursor *c, const uint8_t *base, size_t len)
{
	if ((size_t)(c->end - base) > len)
		c->end = base + len;
	if (c->p > c->end)
		c->p = c->end;
}

#endif
