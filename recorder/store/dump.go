package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Dump writes every table of the database as text in a canonical order: the
// schema version, the schema, then each table's rows ordered by key, one
// line each with every column. Two databases hold the same projection
// exactly when their dumps are equal, whatever the files look like.
func (db *DB) Dump(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(w)
	for line, err := range db.dumpLines(ctx) {
		if err != nil {
			return fmt.Errorf("dump %s: %w", db.Path, err)
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dump %s: %w", db.Path, err)
	}
	return nil
}

// Equal compares two databases row by row, as their dumps, and returns an
// error that names the first line where they differ, or nil.
func Equal(ctx context.Context, a, b *DB) error {
	na, stopA := iter.Pull2(a.dumpLines(ctx))
	defer stopA()
	nb, stopB := iter.Pull2(b.dumpLines(ctx))
	defer stopB()
	for n := 1; ; n++ {
		la, errA, okA := na()
		lb, errB, okB := nb()
		switch {
		case errA != nil:
			return fmt.Errorf("compare %s: %w", a.Path, errA)
		case errB != nil:
			return fmt.Errorf("compare %s: %w", b.Path, errB)
		case !okA && !okB:
			return nil
		case !okA:
			return fmt.Errorf("%s ends at line %d of its dump; %s has more: %s", a.Path, n, b.Path, cut(lb))
		case !okB:
			return fmt.Errorf("%s ends at line %d of its dump; %s has more: %s", b.Path, n, a.Path, cut(la))
		case la != lb:
			return fmt.Errorf("dumps differ at line %d:\n%s: %s\n%s: %s", n, a.Path, cut(la), b.Path, cut(lb))
		}
	}
}

// cut shortens a dump line for an error message.
func cut(line string) string {
	const max = 400
	if len(line) <= max {
		return line
	}
	return line[:max] + "..."
}

// dumpLines yields the lines of the dump, all read in one transaction.
func (db *DB) dumpLines(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			yield("", err)
			return
		}
		defer tx.Rollback()
		var version int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			yield("", err)
			return
		}
		if !yield("user_version "+strconv.Itoa(version), nil) {
			return
		}
		type object struct{ typ, name, sql string }
		var objects []object
		rows, err := tx.QueryContext(ctx, "SELECT type, name, coalesce(sql, '') FROM sqlite_schema "+
			"WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
		if err != nil {
			yield("", err)
			return
		}
		for rows.Next() {
			var o object
			if err := rows.Scan(&o.typ, &o.name, &o.sql); err != nil {
				rows.Close()
				yield("", err)
				return
			}
			objects = append(objects, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			yield("", err)
			return
		}
		for _, o := range objects {
			if !yield(o.typ+" "+o.name+" "+strconv.Quote(o.sql), nil) {
				return
			}
		}
		for _, o := range objects {
			if o.typ != "table" {
				continue
			}
			if !dumpTable(ctx, tx, o.name, yield) {
				return
			}
		}
	}
}

// dumpTable yields the rows of one table ordered by its primary key (by
// every column when it has none), and reports whether to go on.
func dumpTable(ctx context.Context, tx *sql.Tx, table string, yield func(string, error) bool) bool {
	quoted := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
	rows, err := tx.QueryContext(ctx, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return yield("", err)
	}
	var cols []string
	pk := map[int]string{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			rows.Close()
			return yield("", err)
		}
		cols = append(cols, name)
		if n > 0 {
			pk[n] = `"` + name + `"`
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return yield("", err)
	}
	var order []string
	for i := 1; i <= len(pk); i++ {
		order = append(order, pk[i])
	}
	if len(order) == 0 {
		for _, c := range cols {
			order = append(order, `"`+c+`"`)
		}
	}
	rows, err = tx.QueryContext(ctx, "SELECT * FROM "+quoted+" ORDER BY "+strings.Join(order, ", "))
	if err != nil {
		return yield("", err)
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var line strings.Builder
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return yield("", err)
		}
		line.Reset()
		line.WriteString(table)
		for i, v := range vals {
			line.WriteByte(' ')
			line.WriteString(cols[i])
			line.WriteByte('=')
			line.WriteString(dumpValue(v))
		}
		if !yield(line.String(), nil) {
			return false
		}
	}
	if err := rows.Err(); err != nil {
		return yield("", err)
	}
	return true
}

// dumpValue writes one value so that values of different types never look
// alike: NULL, numbers, "text" quoted, b"blob" quoted when it is UTF-8 and
// x'blob' in hex when not.
func dumpValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		if v {
			return "1"
		}
		return "0"
	case string:
		return strconv.Quote(v)
	case []byte:
		if utf8.Valid(v) {
			return "b" + strconv.Quote(string(v))
		}
		return "x'" + hex.EncodeToString(v) + "'"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}
