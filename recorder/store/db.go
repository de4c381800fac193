package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrNotFound is returned by queries for a session or transaction the store
// does not hold.
var ErrNotFound = errors.New("not found")

// ErrNewerSchema is returned by Open for a database written by a newer
// janustap, whose schema this one does not know.
var ErrNewerSchema = errors.New("database schema is newer than this janustap")

// walCheckpointBackstop is the WAL size, in pages, at which a commit of the
// writer checkpoints by itself, should the checkpointer fall behind.
const walCheckpointBackstop = 16384

// DefaultBusyTimeout is how long a connection waits for a lock held by
// another process before it fails with SQLITE_BUSY.
const DefaultBusyTimeout = 5 * time.Second

// DefaultCheckpointInterval is the least time between two checkpoints.
const DefaultCheckpointInterval = 250 * time.Millisecond

// DB is the SQLite projection of the event log. Create it with NewDB and set
// the fields before Open.
type DB struct {
	// Path is the database file. Open creates it with mode 0600 (its
	// directory with 0700) when it does not exist and sets journal_mode=WAL.
	Path string
	// Now is the clock: every clock read goes through it. Nil means
	// time.Now. Nothing read from it is stored, so that a database rebuilt
	// from the log is identical to the live one.
	Now func() time.Time
	// Logger receives warnings (skipped items) and a debug line per batch.
	// Nil means slog.Default().
	Logger *slog.Logger
	// BusyTimeout is how long to wait for a lock held by another process.
	// Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// CheckpointInterval is the least time between two checkpoints of the
	// WAL into the database file, which the DB runs in the background once
	// Apply has written. A checkpoint copies each page changed since the
	// last one and syncs both files: after every batch of a projector that
	// keeps up (a batch per 20 ms), it cost more than the batches. Zero
	// means DefaultCheckpointInterval; negative, after every batch.
	CheckpointInterval time.Duration

	w *sql.DB // the single writer connection: migrations and Apply
	r *sql.DB // a pool of read-only connections for queries
	c *sql.DB // the checkpointer's connection

	mu        sync.Mutex  // serialises Apply; guards the fields below
	stmts     *statements // Apply's, prepared on w
	cache     *rowCache   // rows kept from the batches before
	cacheRows int         // entries cache holds at most; 0 means defaultCacheRows
	joinFew   int         // SessionPage's joinFew; 0 means the constant (tests lower it)
	batches   uint64      // batches applied

	checkpoint  chan struct{} // Apply asks the checkpointer to run
	checkpoints atomic.Int64  // checkpoints run, for tests
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// NewDB returns a DB for the file at path, with the default clock and logger.
func NewDB(path string) *DB {
	return &DB{Path: path, Now: time.Now, Logger: slog.Default()}
}

// Open opens the database file, creating it if needed, enables WAL and
// applies the migrations it has not applied yet, each in its own
// transaction. The schema version is PRAGMA user_version: the number of
// migrations applied.
func (db *DB) Open(ctx context.Context) (err error) {
	if db.Path == "" {
		return errors.New("open store: no path")
	}
	if strings.Contains(db.Path, "?") { // go-sqlite3 reads options after it
		return fmt.Errorf("open store %s: path must not contain ?", db.Path)
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	if db.Logger == nil {
		db.Logger = slog.Default()
	}
	if db.BusyTimeout == 0 {
		db.BusyTimeout = DefaultBusyTimeout
	}
	if db.CheckpointInterval == 0 {
		db.CheckpointInterval = DefaultCheckpointInterval
	}
	if err := createFile(db.Path); err != nil {
		return fmt.Errorf("open store %s: %w", db.Path, err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()

	started := db.Now()
	params := url.Values{}
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", "NORMAL")
	params.Set("_busy_timeout", strconv.FormatInt(db.BusyTimeout.Milliseconds(), 10))
	// No foreign keys: every row of the projection is derived from the
	// events, rows are written at the end of a batch in no particular
	// order, and the tests check that they agree.
	params.Set("_foreign_keys", "0")
	params.Set("_txlock", "immediate")
	// 64 MiB of page cache (the default is 2 MiB) keeps the indexes of
	// events, which every batch writes at random places, in memory.
	params.Set("_cache_size", "-65536")
	if err := registerWALVFS(); err != nil {
		return fmt.Errorf("open store %s: %w", db.Path, err)
	}
	// The writer writes the WAL through walVFS, in a few writes per commit
	// (walvfs.c).
	params.Set("vfs", walVFS)
	if db.w, err = sql.Open("sqlite3", db.Path+"?"+params.Encode()); err != nil {
		return fmt.Errorf("open store %s: %w", db.Path, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)

	// Switching a new file to WAL takes a lock that SQLite's busy handler
	// does not wait for: when another process opens the same new file at
	// once (serve's recorder and a reader), try again for a while.
	var mode string
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := db.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "database is locked") || db.Now().Sub(started) > db.BusyTimeout {
			return fmt.Errorf("open store %s: read journal mode: %w", db.Path, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("open store %s: %w", db.Path, ctx.Err())
		case <-time.After(wait):
		}
	}
	if mode != "wal" {
		return fmt.Errorf("open store %s: journal mode is %q, not wal", db.Path, mode)
	}
	if err := db.migrate(ctx); err != nil {
		return fmt.Errorf("open store %s: %w", db.Path, err)
	}
	// Checkpoints (copying the WAL into the database file, with fsyncs)
	// run in the checkpointer, on another connection and core, rather than
	// in the commit of a batch. The writer keeps a backstop, far more than
	// Apply writes in a CheckpointInterval.
	// journal_size_limit makes SQLite shrink a WAL that grew large (a long
	// export kept the checkpointer from catching up) once it starts over.
	if _, err := db.w.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d; PRAGMA journal_size_limit = %d",
		walCheckpointBackstop, 64<<20)); err != nil {
		return fmt.Errorf("open store %s: %w", db.Path, err)
	}

	params.Del("_txlock")
	params.Del("vfs")
	params.Del("_journal_mode") // set once by the writer; the file keeps it
	params.Del("_cache_size")
	params.Set("_query_only", "1")
	if db.r, err = sql.Open("sqlite3", db.Path+"?"+params.Encode()); err != nil {
		return fmt.Errorf("open store %s for reading: %w", db.Path, err)
	}
	db.r.SetMaxOpenConns(4)
	db.r.SetMaxIdleConns(4)
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("open store %s for reading: %w", db.Path, err)
	}

	params.Del("_query_only")
	if db.c, err = sql.Open("sqlite3", db.Path+"?"+params.Encode()); err != nil {
		return fmt.Errorf("open store %s for checkpoints: %w", db.Path, err)
	}
	db.c.SetMaxOpenConns(1)
	db.checkpoint = make(chan struct{}, 1)
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	db.cancel = cancel
	db.wg.Go(func() { db.checkpointer(cctx) })
	return nil
}

// checkpointer copies the WAL into the database file when Apply has
// written, at most once per CheckpointInterval, in PASSIVE mode: it never
// waits for, nor blocks, the writer or readers.
func (db *DB) checkpointer(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-db.checkpoint:
		}
		if wait := db.CheckpointInterval - db.Now().Sub(last); wait > 0 && !last.IsZero() {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = db.Now()
		if _, err := db.c.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil {
			db.Logger.Warn("store checkpoint failed", "path", db.Path, "err", err)
		}
		db.checkpoints.Add(1)
	}
}

// askCheckpoint wakes the checkpointer up, unless it is already due to run.
func (db *DB) askCheckpoint() {
	select {
	case db.checkpoint <- struct{}{}:
	default:
	}
}

// createFile creates the database file with mode 0600 when it does not
// exist, so that SQLite (which gives its WAL and shared-memory files the
// mode of the database) does not create it world-readable.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// Close closes the database. It is safe to call on a DB that failed to open.
func (db *DB) Close() error {
	if db.cancel != nil {
		db.cancel()
		db.wg.Wait()
		db.cancel = nil
	}
	// Apply's statements are finalized before their connection closes,
	// which would otherwise stay open until they were.
	db.mu.Lock()
	db.resetApply()
	db.mu.Unlock()
	var errs []error
	if db.c != nil {
		if err := db.c.Close(); err != nil {
			errs = append(errs, err)
		}
		db.c = nil
	}
	if db.r != nil {
		if err := db.r.Close(); err != nil {
			errs = append(errs, err)
		}
		db.r = nil
	}
	if db.w != nil {
		if err := db.w.Close(); err != nil {
			errs = append(errs, err)
		}
		db.w = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store %s: %w", db.Path, err)
	}
	return nil
}

// migration is one file of migrations/, named NNNN_what.sql where NNNN is
// its version.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order, checking that their
// versions run 1, 2, 3... without gaps.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []migration
	for i, name := range names {
		base := filepath.Base(name)
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d first in its name", base, i+1)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

// SchemaVersion is the schema version this package writes: the number of
// its migrations.
func SchemaVersion() int {
	ms, _ := migrations()
	return len(ms)
}

// migrate applies the migrations newer than the database's user_version,
// each with its version bump in one transaction.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	var have int
	if err := db.w.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(ms) {
		return fmt.Errorf("schema version %d, this janustap knows up to %d: %w", have, len(ms), ErrNewerSchema)
	}
	for _, m := range ms[have:] {
		if err := db.migrateOne(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		db.Logger.Debug("store migrated", "path", db.Path, "version", m.version)
	}
	return nil
}

func (db *DB) migrateOne(ctx context.Context, m migration) error {
	tx, err := db.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock first
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process opening the same new file may have applied it while
	// this one waited for the lock.
	var have int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return err
	}
	if have >= m.version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return err
	}
	return tx.Commit()
}

// LastSeq returns the stream sequence of the last item applied, 0 for an
// empty projection.
func (db *DB) LastSeq(ctx context.Context) (uint64, error) {
	var seq int64
	if err := db.r.QueryRowContext(ctx, "SELECT last_seq FROM progress").Scan(&seq); err != nil {
		return 0, fmt.Errorf("read last applied sequence: %w", err)
	}
	return uint64(seq), nil
}
