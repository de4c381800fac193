package bus

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Defaults of the embedded server.
const (
	// DefaultHost is where the embedded server listens unless told otherwise.
	DefaultHost = "127.0.0.1"
	// DefaultMaxPayload is the largest message the embedded server accepts:
	// 8 MiB, so that large Janus bodies (SDP with many candidates, admin API
	// dumps) fit in one event.
	DefaultMaxPayload = 8 << 20
	// DefaultUser is the user name written into a new credentials file.
	DefaultUser = "janustap"

	// CredentialsFile is the name of the file, in the data directory, that
	// holds the embedded server's user and password.
	CredentialsFile = "nats-credentials"
	// StoreDir is the name of the directory, in the data directory, that
	// holds the embedded server's JetStream store.
	StoreDir = "nats"
)

// Server is a NATS server with JetStream running inside the janustap process.
// It listens on loopback only and requires the user and password it keeps in
// Dir (see LoadCredentials). Set the fields before Start.
type Server struct {
	// Dir is the data directory: the JetStream store goes to Dir/nats and
	// the credentials to Dir/nats-credentials. It is created if missing.
	// Required.
	Dir string
	// Host is the address to listen on. It must be a loopback address or
	// "localhost"; "" means DefaultHost.
	Host string
	// Port is the client port: 0 (or -1) means a free port chosen by the
	// system, so that several servers run side by side (ClientURL tells
	// which).
	Port int
	// MaxPayload is the largest message, in bytes, that the server accepts;
	// 0 means DefaultMaxPayload.
	MaxPayload int32
	// Logger receives the server's own log lines at or above NATSLogLevel,
	// and janustap's lines about the server. Nil means slog.Default().
	Logger *slog.Logger
	// NATSLogLevel is the lowest level of nats-server's own log lines that
	// reach Logger: its notices are Info, its warnings Warn, its errors
	// Error. Nil means slog.LevelWarn; slog.LevelError+1 switches them off.
	NATSLogLevel slog.Leveler

	srv        *server.Server
	user, pass string
}

// Start creates the credentials if Dir has none, starts the server and waits
// until it accepts connections and JetStream is enabled, for as long as ctx
// allows and at most 30 seconds.
func (s *Server) Start(ctx context.Context) error {
	if s.srv != nil {
		return errors.New("start nats server: already started")
	}
	if s.Dir == "" {
		return errors.New("start nats server: no data directory")
	}
	host := s.Host
	if host == "" {
		host = DefaultHost
	}
	if !isLoopback(host) {
		return fmt.Errorf("start nats server: host %q is not a loopback address", host)
	}
	port := s.Port
	if port <= 0 {
		port = server.RANDOM_PORT
	}
	maxPayload := s.MaxPayload
	if maxPayload == 0 {
		maxPayload = DefaultMaxPayload
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	level := s.NATSLogLevel
	if level == nil {
		level = slog.LevelWarn
	}

	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("start nats server: %w", err)
	}
	user, pass, err := ensureCredentials(s.Dir, logger)
	if err != nil {
		return fmt.Errorf("start nats server: %w", err)
	}

	opts := &server.Options{
		ServerName: "janustap",
		Host:       host,
		Port:       port,
		MaxPayload: maxPayload,
		JetStream:  true,
		StoreDir:   filepath.Join(s.Dir, StoreDir),
		Username:   user,
		Password:   pass,
		NoSigs:     true,
		NoLog:      true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("start nats server: %w", err)
	}
	sl := &serverLog{log: logger.With("part", "nats-server"), min: level}
	srv.SetLoggerV2(sl, level.Level() <= slog.LevelDebug, false, false)
	srv.Start()

	if err := waitReady(ctx, srv, sl); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("start nats server on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	s.srv, s.user, s.pass = srv, user, pass
	logger.Debug("nats server started", "url", srv.ClientURL(), "store", opts.StoreDir)
	return nil
}

// waitReady waits until srv accepts connections with JetStream enabled, for
// as long as ctx allows and at most 30 seconds. It gives up at once when the
// server reports a fatal error, such as a port in use: ReadyForConnections
// alone would wait out its whole timeout.
func waitReady(ctx context.Context, srv *server.Server, sl *serverLog) error {
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		switch {
		case sl.fatal() != "":
			return errors.New(sl.fatal())
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return fmt.Errorf("not ready after %s", time.Since(start).Round(time.Millisecond))
		}
	}
	if !srv.JetStreamEnabled() {
		if msg := sl.fatal(); msg != "" {
			return errors.New(msg)
		}
		return errors.New("jetstream not enabled")
	}
	return ctx.Err()
}

// ClientURL returns the URL clients connect to, with the port the server
// listens on (also when Port is -1). It is "" before Start.
func (s *Server) ClientURL() string {
	if s.srv == nil {
		return ""
	}
	return s.srv.ClientURL()
}

// ConnectOptions returns the options that let Connect reach this server:
// its user and password. Call it after Start. A process that embeds the
// server connects to it in memory, without loopback TCP (InProcess); other
// processes use ClientURL and LoadCredentials.
func (s *Server) ConnectOptions() ConnectOptions {
	o := ConnectOptions{User: s.user, Password: s.pass}
	if s.srv != nil {
		o.InProcess = s.srv
	}
	return o
}

// NATS returns the running nats-server, or nil before Start.
func (s *Server) NATS() *server.Server { return s.srv }

// RestartJetStream stops the server's JetStream and starts it again on the
// same store, keeping the server and its clients' connections. A file store
// that failed to write (out of descriptors, say) stays failed until its
// stream is loaded again; this loads every stream again from disk. The
// messages stored before the failure are kept; a publish under way fails
// and is sent again by its publisher.
func (s *Server) RestartJetStream(ctx context.Context) error {
	if s.srv == nil {
		return errors.New("restart jetstream: server not started")
	}
	old := s.srv.JetStreamConfig()
	if err := s.srv.DisableJetStream(); err != nil {
		return fmt.Errorf("restart jetstream: stop: %w", err)
	}
	cfg := &server.JetStreamConfig{StoreDir: filepath.Join(s.Dir, StoreDir)}
	if old != nil {
		cfg.MaxMemory, cfg.MaxStore = old.MaxMemory, old.MaxStore
		cfg.SyncInterval, cfg.SyncAlways = old.SyncInterval, old.SyncAlways
	}
	if err := s.srv.EnableJetStream(cfg); err != nil {
		return fmt.Errorf("restart jetstream: start: %w", err)
	}
	if !s.srv.JetStreamEnabled() {
		return errors.New("restart jetstream: not enabled after start")
	}
	return ctx.Err()
}

// Shutdown stops the server and waits until it has stopped. It does nothing
// if the server is not running.
func (s *Server) Shutdown() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// isLoopback reports whether host names a loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// credentials is the JSON form of the credentials file.
type credentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// LoadCredentials reads the user and password of the embedded server whose
// data directory is dir. The error wraps fs.ErrNotExist when the server has
// never run there.
func LoadCredentials(dir string) (user, pass string, err error) {
	path := filepath.Join(dir, CredentialsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("load nats credentials: %w", err)
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return "", "", fmt.Errorf("load nats credentials from %s: %w", path, err)
	}
	if c.User == "" || c.Password == "" {
		return "", "", fmt.Errorf("load nats credentials from %s: no user or password", path)
	}
	return c.User, c.Password, nil
}

// ensureCredentials returns the credentials kept in dir, creating them the
// first time. A file that others can read is made private again.
func ensureCredentials(dir string, logger *slog.Logger) (user, pass string, err error) {
	path := filepath.Join(dir, CredentialsFile)
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode().Perm()&0o077 != 0 {
			logger.Warn("nats credentials readable by others, making them private", "path", path, "mode", fi.Mode().Perm().String())
			if err := os.Chmod(path, 0o600); err != nil {
				return "", "", fmt.Errorf("make nats credentials private: %w", err)
			}
		}
		return LoadCredentials(dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", "", fmt.Errorf("check nats credentials: %w", err)
	}

	var secret [24]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails
	c := credentials{User: DefaultUser, Password: base64.RawURLEncoding.EncodeToString(secret[:])}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encode nats credentials: %w", err)
	}
	if err := writePrivate(path, append(b, '\n')); errors.Is(err, os.ErrExist) {
		return LoadCredentials(dir) // another process was quicker
	} else if err != nil {
		return "", "", fmt.Errorf("write nats credentials: %w", err)
	}
	return c.User, c.Password, nil
}

// writePrivate writes b to path with mode 0600, atomically: a reader sees no
// file or the whole file. It fails if path already exists, so two processes
// starting at once cannot both pick credentials.
func writePrivate(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after Link, the temporary name alone goes
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Link(tmp, path)
}

// serverLog passes nats-server's log lines at or above min to an slog.Logger.
// It keeps the last fatal line, which Start reports when the server does not
// come up: nats-server's Fatalf does not exit when it is embedded.
type serverLog struct {
	log *slog.Logger
	min slog.Leveler

	mu        sync.Mutex
	lastFatal string
}

func (l *serverLog) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastFatal
}

func (l *serverLog) emit(level slog.Level, format string, v []any) {
	if level < l.min.Level() || !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, v...))
}

func (l *serverLog) Noticef(format string, v ...any) { l.emit(slog.LevelInfo, format, v) }
func (l *serverLog) Warnf(format string, v ...any) {
	level := slog.LevelWarn
	if strings.HasPrefix(format, "Plaintext passwords detected") {
		// Clients need the password in the clear anyway (see
		// LoadCredentials); the file holding it is private.
		level = slog.LevelDebug
	}
	l.emit(level, format, v)
}
func (l *serverLog) Errorf(format string, v ...any) { l.emit(slog.LevelError, format, v) }
func (l *serverLog) Debugf(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l *serverLog) Tracef(format string, v ...any) { l.emit(slog.LevelDebug-4, format, v) }

func (l *serverLog) Fatalf(format string, v ...any) {
	l.mu.Lock()
	l.lastFatal = fmt.Sprintf(format, v...)
	l.mu.Unlock()
	l.emit(slog.LevelError, format, v)
}
