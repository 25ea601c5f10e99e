package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterOptions says what Cluster starts.
type ClusterOptions struct {
	// Masters is the number of masters, each serving an equal range of the
	// 16384 hash slots; 3 when 0, the fewest Redis accepts.
	Masters int
	// Replicas is the number of replicas of each master: 0, or 1 for a test
	// that kills a master and expects its replica to take over.
	Replicas int
}

// slots is the number of Redis Cluster hash slots.
const slots = 16384

// nodeTimeout is the cluster-node-timeout: a master silent this long is
// suspected, then failed over. Small, so that a failover takes a second or
// two instead of the production default's fifteen.
const nodeTimeout = 1000 * time.Millisecond

// TestCluster is a local Redis Cluster of private redis-servers, without
// persistence, on free ports of 127.0.0.1.
type TestCluster struct {
	// URL is the cluster's redis+cluster:// URL, listing every node.
	URL string
	// Client is a client of the cluster opened with redisconn.Open, closed
	// when the test ends. OpenURL(t, URL) makes more, one per instance.
	Client redis.UniversalClient

	opts  ClusterOptions
	nodes []*clusterNode

	mu sync.Mutex
	// heirs holds, for each killed master, the addresses of its replicas.
	heirs [][]string
}

// clusterNode is one redis-server of a TestCluster.
type clusterNode struct {
	port, busPort int
	dir           string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	client *redis.Client // a plain client of this node alone
}

func (n *clusterNode) addr() string { return "127.0.0.1:" + strconv.Itoa(n.port) }

// alive reports whether the node's process is running.
func (n *clusterNode) alive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Cluster starts a Redis Cluster for t: opts.Masters masters with
// opts.Replicas replicas each, created with redis-cli --cluster create, and
// returns once every node reports cluster_state:ok and every replica is in
// sync with its master. The processes are killed and their directory
// removed when t ends. It skips t when redis-server or redis-cli is not
// installed, and only then; any other failure fails t.
//
// Starting a cluster takes a second or two: start one per test package
// (one top-level test with subtests), not one per test.
func Cluster(t testing.TB, opts ClusterOptions) *TestCluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed: %v", bin, err)
		}
	}
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	if opts.Masters < 3 || opts.Masters > 16 || opts.Replicas < 0 || opts.Replicas > 1 {
		t.Fatalf("redistest.Cluster: %d masters and %d replicas each; want 3 to 16 masters and 0 or 1 replicas", opts.Masters, opts.Replicas)
	}
	c := &TestCluster{opts: opts}
	dir := t.TempDir()
	t.Cleanup(c.stop)
	for i := range opts.Masters * (1 + opts.Replicas) {
		n := &clusterNode{dir: filepath.Join(dir, "node"+strconv.Itoa(i))}
		if err := os.Mkdir(n.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, n)
		c.startNode(t, n)
	}
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitHealthy(t, 20*time.Second)
	c.URL = "redis+cluster://" + strings.Join(addrs, ",")
	c.Client = OpenURL(t, c.URL)
	return c
}

// startNode starts n on fresh ports and waits until it answers. A port
// taken by another process between finding it free and binding it makes
// redis-server exit; the node is then tried again on other ports.
func (c *TestCluster) startNode(t testing.TB, n *clusterNode) {
	t.Helper()
	var lastErr error
	for range 3 {
		n.port, n.busPort = freePort(t), freePort(t)
		if lastErr = n.start(); lastErr == nil {
			return
		}
	}
	t.Fatalf("starting a cluster node: %v", lastErr)
}

// start runs the node's redis-server on its ports, with the data and
// cluster configuration in its directory, and waits until it answers.
func (n *clusterNode) start() error {
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(n.port), "--bind", "127.0.0.1",
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(n.dir, "nodes.conf"),
		"--cluster-port", strconv.Itoa(n.busPort),
		"--cluster-node-timeout", strconv.Itoa(int(nodeTimeout.Milliseconds())),
		// A replica takes over however long its link has been down, and
		// syncs at once instead of after diskless sync's 5 s delay.
		"--cluster-replica-validity-factor", "0",
		"--repl-diskless-sync-delay", "0",
		"--save", "", "--appendonly", "no", "--dir", n.dir,
		"--daemonize", "no", "--loglevel", "warning",
		"--logfile", filepath.Join(n.dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	if n.client != nil && n.client.Options().Addr != n.addr() { // new ports
		_ = n.client.Close()
		n.client = nil
	}
	if n.client == nil {
		n.client = redis.NewClient(&redis.Options{Addr: n.addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	}
	n.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := n.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			n.mu.Lock()
			n.cmd = nil
			n.mu.Unlock()
			log, _ := os.ReadFile(filepath.Join(n.dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited: %s", n.port, log)
		default:
		}
		if time.Now().After(deadline) {
			n.kill()
			return fmt.Errorf("redis-server on port %d did not answer: %w", n.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill kills the node's process (SIGKILL, as a crash would) and waits for
// it to exit.
func (n *clusterNode) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// stop kills every node and closes the per-node clients.
func (c *TestCluster) stop() {
	for _, n := range c.nodes {
		n.kill()
		if n.client != nil {
			_ = n.client.Close()
		}
	}
}

// waitHealthy waits until every live node reports cluster_state:ok with
// every slot assigned, every slot's master is alive, and every live
// replica's link to its master is up.
func (c *TestCluster) waitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := Eventually(timeout, c.healthy); err != nil {
		t.Fatalf("redistest: the cluster is not healthy after %v: %v", timeout, err)
	}
}

func (c *TestCluster) healthy() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	live := map[string]bool{}
	for _, n := range c.nodes {
		if n.alive() {
			live[n.addr()] = true
		}
	}
	for _, n := range c.nodes {
		if !live[n.addr()] {
			continue
		}
		info, err := n.client.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.addr(), err)
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") {
			return fmt.Errorf("node %s: cluster state not ok", n.addr())
		}
		ranges, err := slotMap(ctx, n)
		if err != nil {
			return fmt.Errorf("node %s: %w", n.addr(), err)
		}
		for _, r := range ranges {
			if len(r.Nodes) == 0 || !live[r.Nodes[0].Addr] {
				return fmt.Errorf("node %s: slots %d-%d have no live master", n.addr(), r.Start, r.End)
			}
		}
		repl, err := n.client.Info(ctx, "replication").Result()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.addr(), err)
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return fmt.Errorf("node %s: replica not in sync", n.addr())
		}
	}
	return nil
}

// slotMap returns n's view of which node serves which slots: CLUSTER SLOTS,
// whose every range names its master first.
func slotMap(ctx context.Context, n *clusterNode) ([]redis.ClusterSlot, error) {
	//lint:ignore SA1019 CLUSTER SLOTS says which master serves a range as it is; CLUSTER SHARDS, its successor, also lists failed former masters, which would need sorting out.
	return n.client.ClusterSlots(ctx).Result()
}

// liveNode returns a node whose process is running.
func (c *TestCluster) liveNode(t testing.TB) *clusterNode {
	t.Helper()
	for _, n := range c.nodes {
		if n.alive() {
			return n
		}
	}
	t.Fatal("redistest: no cluster node is running")
	return nil
}

// Slot returns the hash slot of key, as the cluster computes it.
func (c *TestCluster) Slot(t testing.TB, key string) int {
	t.Helper()
	slot, err := c.liveNode(t).client.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("CLUSTER KEYSLOT: %v", err)
	}
	return int(slot)
}

// masterOf returns the node that a live node believes serves slot.
func (c *TestCluster) masterOf(t testing.TB, slot int) *clusterNode {
	t.Helper()
	ranges, err := slotMap(context.Background(), c.liveNode(t))
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	for _, r := range ranges {
		if int(r.Start) <= slot && slot <= int(r.End) && len(r.Nodes) > 0 {
			for _, n := range c.nodes {
				if n.addr() == r.Nodes[0].Addr {
					return n
				}
			}
			t.Fatalf("redistest: slot %d is served by %s, not a node of this cluster", slot, r.Nodes[0].Addr)
		}
	}
	t.Fatalf("redistest: slot %d is not served", slot)
	return nil
}

// KillMaster kills (SIGKILL, as a crash would) the master serving the
// i-th of the cluster's equal ranges of slots, 0 <= i < Masters, and
// returns once its process has exited, without waiting for the failover:
// operations on its slots fail until WaitFailover returns. It fails t in
// a cluster without replicas, where nothing would take over.
func (c *TestCluster) KillMaster(t testing.TB, i int) {
	t.Helper()
	if i < 0 || i >= c.opts.Masters {
		t.Fatalf("redistest: KillMaster(%d) in a cluster of %d masters", i, c.opts.Masters)
	}
	// The middle of the i-th range: redis-cli --cluster create splits the
	// slots into ranges of equal size, rounded.
	c.killSlotMaster(t, (2*i+1)*slots/(2*c.opts.Masters))
}

// KillMasterOf kills the master serving key's slot, like KillMaster.
func (c *TestCluster) KillMasterOf(t testing.TB, key string) {
	t.Helper()
	c.killSlotMaster(t, c.Slot(t, key))
}

func (c *TestCluster) killSlotMaster(t testing.TB, slot int) {
	t.Helper()
	if c.opts.Replicas == 0 {
		t.Fatal("redistest: killing a master of a cluster without replicas; set ClusterOptions.Replicas")
	}
	n := c.masterOf(t, slot)
	heirs, err := replicasOf(n)
	if err != nil || len(heirs) == 0 {
		t.Fatalf("redistest: the master of slot %d, %s, has no replica (%v)", slot, n.addr(), err)
	}
	n.kill()
	c.mu.Lock()
	c.heirs = append(c.heirs, heirs)
	c.mu.Unlock()
	t.Logf("redistest: killed the master of slot %d, %s", slot, n.addr())
}

// replicasOf returns the addresses of the master n's replicas, from its
// INFO replication lines "slave0:ip=127.0.0.1,port=6380,...".
func replicasOf(n *clusterNode) ([]string, error) {
	info, err := n.client.Info(context.Background(), "replication").Result()
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "slave") || !strings.Contains(line, ":ip=") {
			continue
		}
		var ip, port string
		for _, f := range strings.Split(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), ",") {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "ip":
				ip = v
			case "port":
				port = v
			}
		}
		addrs = append(addrs, ip+":"+port)
	}
	return addrs, nil
}

// WaitFailover waits until the replicas of killed masters have taken over:
// every slot is served by a running master and every running node reports
// cluster_state:ok. It fails t after 20 seconds.
func (c *TestCluster) WaitFailover(t testing.TB) {
	t.Helper()
	start := time.Now()
	c.waitHealthy(t, 20*time.Second)
	t.Logf("redistest: failed over within %v", time.Since(start).Round(time.Millisecond))
}

// Promoted reports, without waiting, whether a replica of every master
// killed so far has been promoted: whether it calls itself master. An
// operation on a killed master's slots that returns before Promoted
// reports false ran while those slots had no master, so it must fail.
func (c *TestCluster) Promoted() bool {
	c.mu.Lock()
	heirs := slices.Clone(c.heirs)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, addrs := range heirs {
		promoted := false
		for _, n := range c.nodes {
			if !slices.Contains(addrs, n.addr()) || !n.alive() {
				continue
			}
			role, err := n.client.Do(ctx, "ROLE").Slice()
			if err == nil && len(role) > 0 && role[0] == "master" {
				promoted = true
			}
		}
		if !promoted {
			return false
		}
	}
	return true
}

// WaitReplicated waits until every running master's writes so far have
// reached its replica (WAIT), so that a test can kill a master without
// losing them to asynchronous replication.
func (c *TestCluster) WaitReplicated(t testing.TB) {
	t.Helper()
	if c.opts.Replicas == 0 {
		return
	}
	ctx := context.Background()
	ranges, err := slotMap(ctx, c.liveNode(t))
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	for _, r := range ranges {
		for _, n := range c.nodes {
			if len(r.Nodes) == 0 || n.addr() != r.Nodes[0].Addr || !n.alive() {
				continue
			}
			acked, err := n.client.Do(ctx, "WAIT", c.opts.Replicas, 5000).Int()
			if err != nil || acked < c.opts.Replicas {
				t.Fatalf("WAIT on %s: %d replicas acknowledged, %v", n.addr(), acked, err)
			}
		}
	}
}

// Prefix returns a random key prefix of the cluster's own. Its keys go
// with the cluster when the test ends.
func (c *TestCluster) Prefix(t testing.TB) string {
	t.Helper()
	return newPrefix()
}

// clusterKeys returns the keys under prefix on every master of c.
func clusterKeys(ctx context.Context, c *redis.ClusterClient, prefix string) ([]string, error) {
	var mu sync.Mutex
	var keys []string
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		var mine []string
		iter := n.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			mine = append(mine, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		mu.Lock()
		keys = append(keys, mine...)
		mu.Unlock()
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return keys, nil
}

// MoveSlotOf moves key's slot, with its keys, from its master to another
// master, as resharding does (CLUSTER SETSLOT IMPORTING and MIGRATING,
// MIGRATE, CLUSTER SETSLOT NODE), and waits until every running node
// agrees. The old master then answers MOVED for the slot and ends its
// sharded subscriptions of the slot's channels.
func (c *TestCluster) MoveSlotOf(t testing.TB, key string) {
	t.Helper()
	ctx := context.Background()
	slot := c.Slot(t, key)
	from := c.masterOf(t, slot)
	var to *clusterNode
	ranges, err := slotMap(ctx, from)
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	for _, r := range ranges {
		for _, n := range c.nodes {
			if to == nil && n != from && n.alive() && len(r.Nodes) > 0 && r.Nodes[0].Addr == n.addr() {
				to = n
			}
		}
	}
	if to == nil {
		t.Fatal("redistest: no other master to move a slot to")
	}
	fromID, err1 := from.client.Do(ctx, "CLUSTER", "MYID").Text()
	toID, err2 := to.client.Do(ctx, "CLUSTER", "MYID").Text()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("CLUSTER MYID: %v", err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("moving slot %d, %s: %v", slot, what, err)
		}
	}
	must("importing", to.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", fromID).Err())
	must("migrating", from.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", toID).Err())
	for {
		keys, err := from.client.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		must("listing keys", err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		must("migrating keys", from.client.Do(ctx, args...).Err())
	}
	// The new owner first, then the old one, then the rest, as the Redis
	// manual orders it.
	must("assigning", to.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err())
	must("assigning", from.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err())
	for _, n := range c.nodes {
		if n != from && n != to && n.alive() {
			_ = n.client.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", toID).Err()
		}
	}
	err = Eventually(10*time.Second, func() error {
		for _, n := range c.nodes {
			if !n.alive() {
				continue
			}
			ranges, err := slotMap(ctx, n)
			if err != nil {
				return err
			}
			for _, r := range ranges {
				if int(r.Start) <= slot && slot <= int(r.End) && (len(r.Nodes) == 0 || r.Nodes[0].Addr != to.addr()) {
					return fmt.Errorf("node %s still places slot %d elsewhere", n.addr(), slot)
				}
			}
		}
		return c.healthy()
	})
	if err != nil {
		t.Fatalf("moving slot %d: %v", slot, err)
	}
	t.Logf("redistest: moved slot %d from %s to %s", slot, from.addr(), to.addr())
}

// EnvFailover names the environment variable that turns on the tests that
// kill a Cluster master (WARDEN_TEST_REDIS_FAILOVER=1).
const EnvFailover = "WARDEN_TEST_REDIS_FAILOVER"

// Failover skips the test unless EnvFailover is set. Failover tests are
// opt-in: on a heavily loaded machine (CI running beside other jobs) they
// have seen writes acknowledged by WAIT missing from the promoted replica,
// a failure not yet explained, so they do not gate CI until it is.
func Failover(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvFailover) == "" {
		t.Skipf("%s is not set: Cluster failover tests are opt-in", EnvFailover)
	}
}
