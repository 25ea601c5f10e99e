// Package redistest gives tests a Redis: the shared server named by
// WARDEN_TEST_REDIS_URL under a key prefix of the test's own, which is
// deleted when the test ends; a private redis-server the test may stop
// and restart without disturbing anyone else; or a private Redis Cluster
// (Cluster) whose masters the test may kill to watch a failover.
//
// Tests that need the shared server or a private redis-server skip when
// WARDEN_TEST_REDIS_URL is unset, and only then; Cluster, which needs no
// shared server, skips only when redis-server or redis-cli is not
// installed. It is meant for tests only.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden/internal/redisconn"
)

// EnvURL names the environment variable with the shared test server's URL.
const EnvURL = "WARDEN_TEST_REDIS_URL"

// URL returns the shared server's URL, or skips the test when it is unset.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Skipf("%s is not set", EnvURL)
	}
	return u
}

// Open returns a new client of the shared server, closed when the test
// ends. Each call is a separate client, like a separate Warden instance.
func Open(t testing.TB) redis.UniversalClient {
	t.Helper()
	return OpenURL(t, URL(t))
}

// OpenURL returns a client of the server at url, closed when the test ends.
func OpenURL(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	c, err := redisconn.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("redisconn.Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a random key prefix and deletes every key under it, on
// the shared server, when the test ends.
func Prefix(t testing.TB) string {
	t.Helper()
	url := URL(t)
	prefix := newPrefix()
	t.Cleanup(func() {
		c, err := redisconn.Open(context.Background(), url)
		if err != nil {
			t.Errorf("redistest: cleaning up %s: %v", prefix, err)
			return
		}
		defer c.Close()
		if err := DeletePrefix(context.Background(), c, prefix); err != nil {
			t.Errorf("redistest: cleaning up %s: %v", prefix, err)
		}
	})
	return prefix
}

// newPrefix returns a random key prefix, without glob characters.
func newPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "warden-test:" + hex.EncodeToString(b[:]) + ":"
}

// DeletePrefix deletes every key that starts with prefix, which must not
// contain glob characters.
func DeletePrefix(ctx context.Context, c redis.UniversalClient, prefix string) error {
	del := func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := node.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
	}
	return del(ctx, c)
}

// Keys returns the keys under prefix, on every master of a Cluster.
func Keys(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return clusterKeys(ctx, cc, prefix)
	}
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// Server is a private redis-server, without persistence, on a free port of
// 127.0.0.1.
type Server struct {
	t    testing.TB
	port int
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartServer starts a private redis-server and stops it when the test
// ends. It skips the test when WARDEN_TEST_REDIS_URL is unset, like every
// Redis test, and fails it when redis-server cannot be started.
func StartServer(t testing.TB) *Server {
	t.Helper()
	URL(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed: %v", err)
	}
	s := &Server{t: t, port: freePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

var portMu sync.Mutex
var usedPorts = map[int]bool{}

func freePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !usedPorts[port] {
			usedPorts[port] = true
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// URL is the server's URL, database 0.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

// Start starts the server if it is stopped and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d did not answer: %v", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to
// exit. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Eventually calls f every 50ms until it returns nil or timeout passes, and
// returns f's last error.
func Eventually(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CountingHook counts the commands and pipelines a client sends: each is
// one round trip to Redis. The handshake of a new connection (HELLO, AUTH,
// SELECT, CLIENT ...) also passes client hooks; it is not counted, since it
// happens once per connection, not per call.
type CountingHook struct {
	n atomic.Int64
}

func handshake(cmd redis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "hello", "auth", "select", "client":
		return true
	}
	return false
}

// Count returns the round trips so far.
func (h *CountingHook) Count() int64 { return h.n.Load() }

// DialHook implements redis.Hook.
func (h *CountingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h *CountingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *CountingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0]) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// String describes the server, for test logs.
func (s *Server) String() string { return fmt.Sprintf("redis-server on port %d", s.port) }
