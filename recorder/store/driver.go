package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/mattn/go-sqlite3"
)

// rawStmt is a statement prepared on the writer's driver connection. Apply
// runs its statements through the driver, not database/sql: go-sqlite3 binds
// the arguments of a query and steps it in one cgo call, where an Exec
// through database/sql costs a cgo call per argument, and with a context
// that can be cancelled a goroutine per statement. An event has 38 columns.
type rawStmt struct {
	query string
	s     driver.Stmt
	q     driver.StmtQueryContext
	args  []driver.NamedValue
	dest  []driver.Value
}

func prepareRaw(ctx context.Context, c driver.Conn, query string) (*rawStmt, error) {
	pc, ok := c.(driver.ConnPrepareContext)
	if !ok {
		return nil, fmt.Errorf("driver connection %T cannot prepare with a context", c)
	}
	s, err := pc.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", query, err)
	}
	q, ok := s.(driver.StmtQueryContext)
	if !ok {
		s.Close()
		return nil, fmt.Errorf("driver statement %T cannot query with a context", s)
	}
	return &rawStmt{query: query, s: s, q: q}, nil
}

func (st *rawStmt) close() error { return st.s.Close() }

// run executes the statement with args and calls row, when not nil, for
// each row it returns. row must not keep the slice.
func (st *rawStmt) run(ctx context.Context, args []any, row func(valueRow) error) error {
	st.args = st.args[:0]
	for i, a := range args {
		switch a.(type) {
		case nil, int64, string, []byte, bool:
		default:
			v, err := driver.DefaultParameterConverter.ConvertValue(a)
			if err != nil {
				return fmt.Errorf("argument %d: %w", i+1, err)
			}
			a = v
		}
		st.args = append(st.args, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return st.runNamed(ctx, st.args, row)
}

// runNamed is run with arguments converted already: each a driver.Value,
// with Ordinal i+1 at index i.
func (st *rawStmt) runNamed(ctx context.Context, args []driver.NamedValue, row func(valueRow) error) error {
	rows, err := st.q.QueryContext(ctx, args)
	if err != nil {
		return err
	}
	if row == nil {
		return rows.Close()
	}
	n := len(rows.Columns())
	if cap(st.dest) < n {
		st.dest = make([]driver.Value, n)
	}
	dest := st.dest[:n]
	for {
		err := rows.Next(dest)
		if err == io.EOF {
			return rows.Close()
		}
		if err == nil {
			err = row(dest)
		}
		if err != nil {
			rows.Close()
			return err
		}
	}
}

// exec executes the statement.
func (st *rawStmt) exec(ctx context.Context, args ...any) error {
	return st.run(ctx, args, nil)
}

// queryRow scans the first row into dest and reports whether there was one.
func (st *rawStmt) queryRow(ctx context.Context, args []any, scan func(scanner) error) (bool, error) {
	found := false
	err := st.run(ctx, args, func(r valueRow) error {
		if found {
			return nil
		}
		found = true
		return scan(r)
	})
	return found, err
}

// valueRow is a row read from the driver, scanned as database/sql would
// scan it into sql.Scanner destinations.
type valueRow []driver.Value

func (r valueRow) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("scan %d columns into %d values", len(r), len(dest))
	}
	for i, d := range dest {
		s, ok := d.(sql.Scanner)
		if !ok {
			return fmt.Errorf("scan column %d into %T, not an sql.Scanner", i, d)
		}
		if err := s.Scan(r[i]); err != nil {
			return fmt.Errorf("scan column %d: %w", i, err)
		}
	}
	return nil
}

// isUniqueViolation reports whether err is SQLite refusing a row for a
// UNIQUE constraint (and not the primary key).
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}
