// Command warden runs the Warden API server and its operator tools.
//
//	warden serve [--addr ADDR] [--data-dir DIR] [--env production] [--config FILE]
//	warden token --sub ID [--permissions a,b] [--staff] [--admin] [--ttl 15m]
//
// Configuration comes from WARDEN_* environment variables (see the README);
// flags override them. An insecure configuration stops start-up with a
// message that says how to fix it.
package main

import (
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

	"github.com/wardenhq/warden/app"
	"github.com/wardenhq/warden/config"
)

const usage = `usage:
  warden serve [--addr ADDR] [--data-dir DIR] [--env development|production] [--config FILE]
  warden token --sub USER_ID [--permissions a,b] [--staff] [--admin] [--ttl 15m]
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], logger)
	case "token":
		err = token(args[1:], stdout, logger)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "warden: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "warden: %v\n", err)
		if errors.Is(err, config.ErrConfig) || errors.Is(err, flag.ErrHelp) {
			return 2
		}
		return 1
	}
	return 0
}

func serve(args []string, logger *slog.Logger) error {
	cfg, err := config.Load(args, os.LookupEnv)
	if err != nil {
		return err
	}
	a, err := app.New(cfg, logger)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.Run(ctx)
}

// token mints an access token with this server's key, for trying the
// pipeline before accounts exist and for operators' scripts.
func token(args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("warden token", flag.ContinueOnError)
	sub := fs.String("sub", "", "user id (the sub claim)")
	perms := fs.String("permissions", "", "comma-separated permissions")
	staff := fs.Bool("staff", false, "set is_staff")
	admin := fs.Bool("admin", false, "set is_admin")
	ttl := fs.Duration("ttl", 0, "lifetime (default: WARDEN_ACCESS_TOKEN_TTL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("token: --sub is required")
	}
	cfg, err := config.Load(nil, os.LookupEnv)
	if err != nil {
		return err
	}
	a, err := app.New(cfg, logger)
	if err != nil {
		return err
	}
	signer := *a.Signer()
	if *ttl > 0 {
		if *ttl > 24*time.Hour {
			return errors.New("token: --ttl is at most 24h")
		}
		signer.TTL = *ttl
	}
	permissions := []string{}
	for _, p := range strings.Split(*perms, ",") {
		if p = strings.TrimSpace(p); p != "" {
			permissions = append(permissions, p)
		}
	}
	t, err := signer.Sign(*sub, map[string]any{"is_staff": *staff, "is_admin": *admin, "permissions": permissions})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, t.Raw)
	return nil
}
