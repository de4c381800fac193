/*
** walvfs.c: a SQLite VFS that writes the frames of a WAL commit in a few
** large writes instead of two writes per frame.
**
** SQLite writes each WAL frame with two pwrite(2) calls, its 24-byte header
** and its page, one after the other. On the project's virtual machine a
** write costs 2-3 µs of CPU however small, so that a batch that changes 60
** pages paid some 120 system calls at its commit, about a third of Apply.
** This VFS wraps the default one and, for WAL files only, gathers writes that
** follow each other into a buffer and writes it at once: when the next write
** is elsewhere, when the buffer is full, before any other operation on the
** file (read, sync, truncate, size, close...), and right after the last
** frame of a commit (the frame whose header carries the database size), so
** that every frame of a commit is in the file before walFrames goes on to
** publish the commit in the WAL index, and a failed write fails the commit
** as it did. What readers can see, when, and what a crash or a power loss
** can lose are unchanged: frames that are not committed are never read by
** another connection, and those of a commit are written before it returns.
** Every other file (the database, its shared memory, journals) is the
** default VFS's own.
*/
#include <string.h>
#include "walvfs.h"

/* walBufSize is the most a WAL file buffers: 31 frames of 4 KiB pages. The
** default VFS writes at most 128 KiB - 1 at a time (seekAndWriteFd). */
#define walBufSize (127 * 1024)

typedef struct walFile walFile;
struct walFile {
	sqlite3_file base;     /* pMethods is walMethods[version-1] */
	sqlite3_file *real;    /* the default VFS's file, right after this struct */
	char *buf;             /* writes not made yet; NULL until the first */
	int n;                 /* bytes in buf */
	int commitNext;        /* the last write was the header of a commit frame */
	sqlite3_int64 start;   /* file offset of buf[0] */
};

static sqlite3_vfs *origVfs;
static sqlite3_vfs walVfs;
static sqlite3_io_methods walMethods[3];
static sqlite3_int64 statFrames, statWrites;

/* walFlush writes what is buffered. */
static int walFlush(walFile *f) {
	int rc;
	if (f->n == 0) return SQLITE_OK;
	rc = f->real->pMethods->xWrite(f->real, f->buf, f->n, f->start);
	__atomic_add_fetch(&statWrites, 1, __ATOMIC_RELAXED);
	f->n = 0;
	return rc;
}

static int walClose(sqlite3_file *p) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	int rc2 = f->real->pMethods->xClose(f->real);
	sqlite3_free(f->buf);
	f->buf = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int walRead(sqlite3_file *p, void *b, int amt, sqlite3_int64 off) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xRead(f->real, b, amt, off);
}

static int walWrite(sqlite3_file *p, const void *b, int amt, sqlite3_int64 off) {
	walFile *f = (walFile *)p;
	int rc, commit = f->commitNext;
	f->commitNext = 0;
	if (amt == 24) {
		/* A frame header: bytes 4-7 hold the database size after
		** the commit the frame ends, 0 in the other frames. */
		const unsigned char *h = b;
		f->commitNext = (h[4] | h[5] | h[6] | h[7]) != 0;
		__atomic_add_fetch(&statFrames, 1, __ATOMIC_RELAXED);
	}
	if (f->n > 0 && (off != f->start + f->n || f->n + amt > walBufSize)) {
		if ((rc = walFlush(f)) != SQLITE_OK) return rc;
	}
	if (amt > walBufSize) {
		__atomic_add_fetch(&statWrites, 1, __ATOMIC_RELAXED);
		return f->real->pMethods->xWrite(f->real, b, amt, off);
	}
	if (f->buf == 0) {
		f->buf = sqlite3_malloc(walBufSize);
		if (f->buf == 0) {
			__atomic_add_fetch(&statWrites, 1, __ATOMIC_RELAXED);
			return f->real->pMethods->xWrite(f->real, b, amt, off);
		}
	}
	if (f->n == 0) f->start = off;
	memcpy(f->buf + f->n, b, amt);
	f->n += amt;
	if (commit) return walFlush(f); /* the page of a commit frame */
	return SQLITE_OK;
}

static int walTruncate(sqlite3_file *p, sqlite3_int64 size) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xTruncate(f->real, size);
}

static int walSync(sqlite3_file *p, int flags) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xSync(f->real, flags);
}

static int walFileSize(sqlite3_file *p, sqlite3_int64 *size) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xFileSize(f->real, size);
}

static int walLock(sqlite3_file *p, int lock) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xLock(f->real, lock);
}

static int walUnlock(sqlite3_file *p, int lock) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xUnlock(f->real, lock);
}

static int walCheckReservedLock(sqlite3_file *p, int *out) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int walFileControl(sqlite3_file *p, int op, void *arg) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int walSectorSize(sqlite3_file *p) {
	walFile *f = (walFile *)p;
	return f->real->pMethods->xSectorSize(f->real);
}

static int walDeviceCharacteristics(sqlite3_file *p) {
	walFile *f = (walFile *)p;
	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int walShmMap(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **pp) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int walShmLock(sqlite3_file *p, int off, int n, int flags) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xShmLock(f->real, off, n, flags);
}

static void walShmBarrier(sqlite3_file *p) {
	walFile *f = (walFile *)p;
	walFlush(f); /* never holds a commit's frames: see walWrite */
	f->real->pMethods->xShmBarrier(f->real);
}

static int walShmUnmap(sqlite3_file *p, int del) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xShmUnmap(f->real, del);
}

static int walFetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **pp) {
	walFile *f = (walFile *)p;
	int rc = walFlush(f);
	if (rc != SQLITE_OK) return rc;
	return f->real->pMethods->xFetch(f->real, off, amt, pp);
}

static int walUnfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr) {
	walFile *f = (walFile *)p;
	return f->real->pMethods->xUnfetch(f->real, off, ptr);
}

/* walOpen opens a WAL file wrapped, any other file as the default VFS does. */
static int walOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags, int *outFlags) {
	walFile *f = (walFile *)p;
	int rc, v;
	(void)vfs;
	if ((flags & SQLITE_OPEN_WAL) == 0) return origVfs->xOpen(origVfs, name, p, flags, outFlags);
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)&f[1];
	rc = origVfs->xOpen(origVfs, name, f->real, flags, outFlags);
	if (f->real->pMethods == 0) {
		p->pMethods = 0;
		return rc;
	}
	v = f->real->pMethods->iVersion;
	if (v < 1) v = 1;
	if (v > 3) v = 3;
	p->pMethods = &walMethods[v - 1];
	return rc;
}

/* janustap_walvfs_register registers the VFS under name, wrapping the
** default VFS. It is not safe to call concurrently; Go calls it once. */
int janustap_walvfs_register(const char *name) {
	int i;
	origVfs = sqlite3_vfs_find(0);
	if (origVfs == 0) return SQLITE_ERROR;
	walVfs = *origVfs;
	walVfs.pNext = 0;
	walVfs.zName = name;
	walVfs.szOsFile = (int)sizeof(walFile) + origVfs->szOsFile;
	walVfs.xOpen = walOpen;
	for (i = 0; i < 3; i++) {
		sqlite3_io_methods *m = &walMethods[i];
		m->iVersion = i + 1;
		m->xClose = walClose;
		m->xRead = walRead;
		m->xWrite = walWrite;
		m->xTruncate = walTruncate;
		m->xSync = walSync;
		m->xFileSize = walFileSize;
		m->xLock = walLock;
		m->xUnlock = walUnlock;
		m->xCheckReservedLock = walCheckReservedLock;
		m->xFileControl = walFileControl;
		m->xSectorSize = walSectorSize;
		m->xDeviceCharacteristics = walDeviceCharacteristics;
		if (i >= 1) {
			m->xShmMap = walShmMap;
			m->xShmLock = walShmLock;
			m->xShmBarrier = walShmBarrier;
			m->xShmUnmap = walShmUnmap;
		}
		if (i >= 2) {
			m->xFetch = walFetch;
			m->xUnfetch = walUnfetch;
		}
	}
	return sqlite3_vfs_register(&walVfs, 0);
}

/* janustap_walvfs_stats reports the WAL frames written through the VFS and
** the writes they took. */
void janustap_walvfs_stats(sqlite3_int64 *frames, sqlite3_int64 *writes) {
	*frames = __atomic_load_n(&statFrames, __ATOMIC_RELAXED);
	*writes = __atomic_load_n(&statWrites, __ATOMIC_RELAXED);
}
