// Command warden runs the Warden API server and its operator tools.
//
//	warden serve [--config FILE] [--SETTING VALUE ...]
//	warden migrate [--config FILE] [--SETTING VALUE ...]
//	warden user create --username NAME --email ADDR --password-stdin [--admin] [--staff] [--verified] [--permissions a,b]
//	warden user grant --username NAME --permission PERM [--permission PERM ...]
//	warden user revoke --username NAME --permission PERM [--permission PERM ...]
//	warden apikey create --name NAME [--user NAME] [--permissions a,b] [--expires 720h | --no-expiry] [--survives-reset]
//	warden apikey revoke ID
//	warden sessions revoke (--user NAME | --session ID)
//	warden purge
//	warden token --sub ID [--permissions a,b] [--staff] [--admin] [--ttl 15m]
//	warden help
//
// Configuration comes from WARDEN_* environment variables and an optional
// file; flags override them. `warden help` and the README list every
// setting, both generated from internal/config's table. An insecure
// configuration stops start-up with a message that says how to fix it
// (exit code 2).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/store"
)

// usage names the setting flags only generically: `warden help` lists
// them, from the table config.Load reads.
const usage = `usage:
  warden serve [--config FILE] [--SETTING VALUE ...]
  warden migrate [--config FILE] [--SETTING VALUE ...]
  warden user create --username NAME --email ADDR --password-stdin [--admin] [--staff] [--verified] [--permissions a,b]
  warden user grant --username NAME --permission PERM
  warden user revoke --username NAME --permission PERM
                               --permission is repeatable; the change reaches the user's
                               tokens at their next login or refresh
  warden apikey create --name NAME [--user NAME] [--permissions a,b] [--expires 720h | --no-expiry] [--survives-reset]
                               a key expires after 90 days unless --expires or --no-expiry
                               says otherwise; its owner's password reset revokes it
                               unless --survives-reset
  warden apikey revoke ID
  warden sessions revoke (--user NAME | --session ID)
  warden purge                 delete expired sessions and tokens now (serve does it every 10 minutes)
  warden token --sub USER_ID [--permissions a,b] [--staff] [--admin] [--ttl 15m]
  warden help                  every setting: variable, flag, default, meaning
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks a malformed command line (exit code 2).
var errUsage = errors.New("usage")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	cmd := args[0]
	if len(args) > 1 && (cmd == "user" || cmd == "apikey" || cmd == "sessions") {
		cmd += " " + args[1]
		args = args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		// The server's log goes through a LogWriter, so that a request
		// does not pay a write system call for its access line; see
		// warden.LogWriter for what a crash can lose. Close writes the
		// rest once the server has stopped.
		lw := warden.NewLogWriter(stderr, warden.LogWriterOptions{})
		err = serve(args[1:], slog.New(lw.JSONHandler(nil)))
		_ = lw.Close()
	case "migrate":
		err = migrate(args[1:])
	case "user create":
		err = userCreate(args[1:], stdin, stdout, logger)
	case "user grant":
		err = userPermissions(args[1:], true, stdout, logger)
	case "user revoke":
		err = userPermissions(args[1:], false, stdout, logger)
	case "apikey create":
		err = apikeyCreate(args[1:], stdout, logger)
	case "apikey revoke":
		err = apikeyRevoke(args[1:], stdout, logger)
	case "sessions revoke":
		err = sessionsRevoke(args[1:], stdout, logger)
	case "purge":
		err = purge(args[1:], stdout, logger)
	case "token":
		err = token(args[1:], stdout, stderr, logger)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage+"\n"+config.Help())
		return 0
	default:
		fmt.Fprintf(stderr, "warden: unknown command %q\n%s", strings.Join(args[:1], " "), usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "warden: %v\n", err)
		if errors.Is(err, flag.ErrHelp) { // serve --help, migrate --help
			fmt.Fprint(stderr, "\n"+config.Help())
		}
		if errors.Is(err, config.ErrConfig) || errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// beforeServe, when set (only by pprof.go, built with -tags wardenpprof),
// runs once the settings are loaded, before the server starts.
var beforeServe func() error

func serve(args []string, logger *slog.Logger) error {
	cfg, err := config.Load(args, os.LookupEnv)
	if err != nil {
		return err
	}
	if beforeServe != nil {
		if err := beforeServe(); err != nil {
			return err
		}
	}
	limit, limited := limitMemory(cfg.Hasher.MemoryBudget(), os.LookupEnv, logger)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	if limited {
		go followConnections(ctx, limit, a.OpenConnections)
	}
	return a.Run(ctx)
}

func migrate(args []string) error {
	cfg, err := config.Load(args, os.LookupEnv)
	if err != nil {
		return err
	}
	url, err := store.ResolveURL(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	db, err := store.Open(context.Background(), url)
	if err != nil {
		return err
	}
	if err := app.Migrate(context.Background(), db); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}

// withApp runs fn with a fully configured App (database migrated), for the
// operator commands.
func withApp(logger *slog.Logger, fn func(context.Context, *app.App) error) error {
	cfg, err := config.Load(nil, os.LookupEnv)
	if err != nil {
		return err
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(ctx, a)
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	return nil
}

func splitComma(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func userCreate(args []string, stdin io.Reader, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("warden user create", flag.ContinueOnError)
	username := fs.String("username", "", "user name")
	email := fs.String("email", "", "email address")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	admin := fs.Bool("admin", false, "make an administrator")
	staff := fs.Bool("staff", false, "make a staff member")
	verified := fs.Bool("verified", false, "mark the email as verified")
	perms := fs.String("permissions", "", "comma-separated permissions")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" || *email == "" || !*fromStdin {
		// Passwords are never taken as arguments: they would show in ps
		// and shell history.
		return fmt.Errorf("%w: user create needs --username, --email and --password-stdin", errUsage)
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	return withApp(logger, func(ctx context.Context, a *app.App) error {
		u, err := a.Accounts().CreateUser(ctx, accounts.RegisterInput{Username: *username, Email: *email, Password: pw},
			accounts.CreateOptions{Admin: *admin, Staff: *staff, Verified: *verified, Permissions: splitComma(*perms)})
		var verr *accounts.ValidationError
		if errors.As(err, &verr) {
			return fmt.Errorf("invalid user: %v", verr.Fields)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %s (id %s)\n", u.Username, u.ID)
		return nil
	})
}

// userPermissions grants (or revokes) permissions of one user. Access
// tokens are built from the stored user at login and refresh, so the
// change reaches the user's tokens then; an access token issued before
// keeps its claims until it expires (warden sessions revoke ends it now).
func userPermissions(args []string, grant bool, stdout io.Writer, logger *slog.Logger) error {
	verb := "revoke"
	if grant {
		verb = "grant"
	}
	fs := flag.NewFlagSet("warden user "+verb, flag.ContinueOnError)
	username := fs.String("username", "", "user name")
	var perms []string
	fs.Func("permission", "a permission such as books.add_book (repeatable)", func(v string) error {
		if !accounts.ValidPermission(v) {
			return fmt.Errorf("%q is not a permission: use <area>.<action> in lower-case letters, digits and '_', such as books.add_book", v)
		}
		perms = append(perms, v)
		return nil
	})
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *username == "" || len(perms) == 0 || fs.NArg() > 0 {
		return fmt.Errorf("%w: user %s needs --username and at least one --permission", errUsage, verb)
	}
	return withApp(logger, func(ctx context.Context, a *app.App) error {
		change := a.Accounts().RevokePermission
		if grant {
			change = a.Accounts().GrantPermission
		}
		err := change(ctx, *username, perms...)
		if errors.Is(err, accounts.ErrNotFound) {
			return fmt.Errorf("no user named %q", *username)
		}
		if err != nil {
			return err
		}
		done := "revoked " + strings.Join(perms, ", ") + " from "
		if grant {
			done = "granted " + strings.Join(perms, ", ") + " to "
		}
		fmt.Fprintf(stdout, "%s%s; it takes effect at the user's next login or token refresh\n", done, *username)
		return nil
	})
}

func apikeyCreate(args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("warden apikey create", flag.ContinueOnError)
	name := fs.String("name", "", "what the key is for")
	user := fs.String("user", "", "owner's user name (optional)")
	perms := fs.String("permissions", "", "comma-separated permissions")
	expires := fs.Duration("expires", defaultAPIKeyLifetime, "lifetime, such as 720h")
	noExpiry := fs.Bool("no-expiry", false, "create a key that never expires")
	survives := fs.Bool("survives-reset", false, "keep the key when its owner's password is reset")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ttl, err := apikeyLifetime(fs, *expires, *noExpiry)
	if err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: apikey create needs --name", errUsage)
	}
	return withApp(logger, func(ctx context.Context, a *app.App) error {
		k, err := a.Accounts().CreateAPIKeyWith(ctx, accounts.APIKeyOptions{
			Name: *name, Username: *user, Permissions: splitComma(*perms), TTL: ttl, SurvivesReset: *survives,
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "id:  %s\nkey: %s\nThe key is shown once; store it now.\n", k.ID, k.Key)
		return nil
	})
}

func apikeyRevoke(args []string, stdout io.Writer, logger *slog.Logger) error {
	if len(args) != 1 || args[0] == "" {
		return fmt.Errorf("%w: apikey revoke takes one key id", errUsage)
	}
	return withApp(logger, func(ctx context.Context, a *app.App) error {
		if err := a.Accounts().RevokeAPIKey(ctx, args[0]); err != nil {
			return fmt.Errorf("revoke %s: %w", args[0], err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", args[0])
		return nil
	})
}

func sessionsRevoke(args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("warden sessions revoke", flag.ContinueOnError)
	user := fs.String("user", "", "user name: end every login of this user")
	session := fs.String("session", "", "session id: end this one login (as printed by warden token)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*user == "") == (*session == "") {
		return fmt.Errorf("%w: sessions revoke needs --user or --session", errUsage)
	}
	if *session != "" {
		return withApp(logger, func(ctx context.Context, a *app.App) error {
			if err := a.Accounts().EndLogin(ctx, *session); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked session %s\n", *session)
			return nil
		})
	}
	return withApp(logger, func(ctx context.Context, a *app.App) error {
		n, err := a.Accounts().RevokeUserSessions(ctx, *user)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %d session(s) of %s\n", n, *user)
		return nil
	})
}

// token mints an access token with this server's key, for trying the
// demonstration routes in development. Each token gets a session id of
// its own, printed on stderr, so that "warden sessions revoke --session"
// can end it early on every route; the accounts routes refuse it (it
// belongs to no login there). Production refuses to mint: a token that
// no one logged in for is a back door.
func token(args []string, stdout, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("warden token", flag.ContinueOnError)
	sub := fs.String("sub", "", "user id (the sub claim)")
	perms := fs.String("permissions", "", "comma-separated permissions")
	staff := fs.Bool("staff", false, "set is_staff")
	admin := fs.Bool("admin", false, "set is_admin")
	ttl := fs.Duration("ttl", 0, "lifetime (default: WARDEN_ACCESS_TOKEN_TTL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("token: --sub is required")
	}
	if *ttl > 24*time.Hour {
		return errors.New("token: --ttl is at most 24h")
	}
	return withApp(logger, func(_ context.Context, a *app.App) error {
		if a.Production() {
			return errors.New("token: refused in production; tokens are issued by logging in")
		}
		sid, err := auth.RandomToken(16)
		if err != nil {
			return err
		}
		sid = "cli-" + sid
		signer := *a.Signer()
		if *ttl > 0 {
			signer.TTL = *ttl
		}
		t, err := signer.Sign(*sub, map[string]any{"is_staff": *staff, "is_admin": *admin, "permissions": splitComma(*perms), "sid": sid})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, t.Raw)
		fmt.Fprintf(stderr, "session %s; end it with: warden sessions revoke --session %s\n", sid, sid)
		return nil
	})
}
