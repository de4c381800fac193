package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults of Connect.
const (
	// DefaultReconnectWait is the pause between two attempts to reconnect.
	DefaultReconnectWait = time.Second
	// DefaultReconnectBufSize is how many bytes of publishes a connection
	// keeps while it reconnects.
	DefaultReconnectBufSize = 8 << 20
)

// ConnectOptions says how to reach and authenticate to a NATS server. The zero
// value connects without authentication.
type ConnectOptions struct {
	// Name is the connection's name as the server shows it; "" means
	// "janustap".
	Name string
	// User and Password authenticate with a user and password, such as the
	// embedded server's (Server.ConnectOptions, LoadCredentials).
	User, Password string
	// CredsFile is a NATS credentials file (user JWT and NKey seed).
	CredsFile string
	// NKeyFile is a file holding an NKey seed.
	NKeyFile string
	// CAFile is a PEM file of the CAs that sign the server's certificate;
	// setting it requires TLS.
	CAFile string
	// CertFile and KeyFile are the client's certificate and key for mutual
	// TLS.
	CertFile, KeyFile string
	// ReconnectWait is the pause between attempts to reconnect; 0 means
	// DefaultReconnectWait. The connection tries again forever.
	ReconnectWait time.Duration
	// ReconnectBufSize is how many bytes of publishes are kept while
	// reconnecting and sent once connected again; 0 means
	// DefaultReconnectBufSize, -1 none (publishing then fails at once). A
	// Publisher sends everything unacknowledged again anyway, and keeps the
	// spool's order across disconnections only with -1.
	ReconnectBufSize int
	// RetryOnFailedConnect makes Connect return a connection at once even
	// when no server can be reached, and keep trying in the background. The
	// tap sets it, so that it records while NATS is down.
	RetryOnFailedConnect bool
	// InProcess, when set, connects to a server running in this process
	// through memory instead of a socket (the embedded server sets it:
	// Server.ConnectOptions); the URL is then only named in logs.
	InProcess nats.InProcessConnProvider
	// Logger receives a line for each disconnection and reconnection. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// Connect connects to the NATS servers at serverURL (several URLs are
// separated by commas). The connection reconnects forever: only Close ends
// it. Unless opts.RetryOnFailedConnect is set, Connect fails when no server
// answers before ctx is done or within the client's connect timeout.
func Connect(ctx context.Context, serverURL string, opts ConnectOptions) (*nats.Conn, error) {
	where := redactURLs(serverURL)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", where, err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("part", "nats")
	name := opts.Name
	if name == "" {
		name = "janustap"
	}
	wait := opts.ReconnectWait
	if wait <= 0 {
		wait = DefaultReconnectWait
	}
	bufSize := opts.ReconnectBufSize
	if bufSize == 0 {
		bufSize = DefaultReconnectBufSize
	}

	no := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectBufSize(bufSize),
		nats.RetryOnFailedConnect(opts.RetryOnFailedConnect),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", "url", where, "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(nc *nats.Conn, err error) {
			logger.Debug("nats reconnect attempt failed", "url", where, "err", err)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			logger.Debug("nats connection closed", "url", where)
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				logger.Warn("nats error", "subject", sub.Subject, "err", err)
				return
			}
			logger.Warn("nats error", "err", err)
		}),
	}
	if opts.RetryOnFailedConnect {
		// Connect returns before the first connection; say when it is made.
		no = append(no, nats.ConnectHandler(func(nc *nats.Conn) {
			logger.Info("nats connected", "url", nc.ConnectedUrlRedacted())
		}))
	}
	if d, ok := ctx.Deadline(); ok {
		no = append(no, nats.Timeout(max(time.Until(d), time.Millisecond)))
	}
	if opts.User != "" || opts.Password != "" {
		no = append(no, nats.UserInfo(opts.User, opts.Password))
	}
	if opts.CredsFile != "" {
		no = append(no, nats.UserCredentials(opts.CredsFile))
	}
	if opts.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(opts.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("connect to nats at %s: read nkey seed: %w", where, err)
		}
		no = append(no, o)
	}
	if opts.CAFile != "" {
		no = append(no, nats.RootCAs(opts.CAFile))
	}
	if opts.CertFile != "" || opts.KeyFile != "" {
		if opts.CertFile == "" || opts.KeyFile == "" {
			return nil, fmt.Errorf("connect to nats at %s: client certificate needs both a certificate and a key file", where)
		}
		no = append(no, nats.ClientCert(opts.CertFile, opts.KeyFile))
	}

	if opts.InProcess != nil {
		no = append(no, nats.InProcessServer(opts.InProcess))
	}
	nc, err := nats.Connect(serverURL, no...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", where, err)
	}
	return nc, nil
}

// redactURLs replaces the passwords in a comma-separated list of URLs, for
// messages and logs.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			if _, ok := u.User.Password(); !ok {
				u.User = url.User("xxxxx") // a lone user name may be a token
			}
			p = u.Redacted()
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// IsAuthError reports whether err says the server refused the credentials.
func IsAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}
