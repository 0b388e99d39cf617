package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

func init() {
	caddy.RegisterModule(new(Redis))
}

// Redis keeps records in Redis with its native expiry (SET ... PX). It
// uses go-redis's universal client: one address is a single node, several
// are a Cluster, and sentinel_master set means Sentinel (the addresses are
// then the sentinels'). Instances sharing the Redis share sessions.
//
// Keys are key_prefix + scope + ":" + key. Values are the sealed bytes the
// handler writes; the password is never logged.
type Redis struct {
	// The host:port of the Redis node, the Cluster nodes or the
	// sentinels. An address may be a placeholder ({env.REDIS_ADDR}); after
	// replacement, commas and spaces separate several. Default:
	// 127.0.0.1:6379.
	Addresses []string `json:"addresses,omitempty"`
	// The user name for Redis ACLs (AUTH username password). Takes
	// placeholders. Default: none.
	Username string `json:"username,omitempty"`
	// The password for AUTH. Takes placeholders, and should be one
	// ({env.REDIS_PASSWORD} or {file./run/secrets/redis}) so that the
	// secret stays out of the config. Default: none.
	Password string `json:"password,omitempty"`
	// The database number of a single node or Sentinel setup; a
	// Cluster has only database 0. Default: 0. No placeholders.
	DB int `json:"db,omitempty"`
	// Starts every key this store writes, so that the store can
	// share a Redis with other users. Default: "sgid:". No placeholders.
	KeyPrefix string `json:"key_prefix,omitempty"`
	// The master name the sentinels at addresses monitor. Setting it selects Sentinel. Takes placeholders. Default:
	// none.
	SentinelMaster string `json:"sentinel_master,omitempty"`
	// TLS, when present, makes connections use TLS. Default: plain TCP.
	TLS *RedisTLS `json:"tls,omitempty"`
	// Bounds connecting to Redis. Default: 2s.
	DialTimeout caddy.Duration `json:"dial_timeout,omitempty"`
	// Bounds waiting for a reply. Default: 1s.
	ReadTimeout caddy.Duration `json:"read_timeout,omitempty"`
	// Bounds sending a command. Default: 1s.
	WriteTimeout caddy.Duration `json:"write_timeout,omitempty"`

	client redis.UniversalClient
}

// RedisTLS configures TLS to Redis. The server's certificate is always
// verified; there is deliberately no setting to skip that, since the
// connection carries the Redis password and session records.
type RedisTLS struct {
	// A PEM file of the CA certificates to trust instead of the
	// system's (for a private CA). Takes placeholders. Default: the
	// system's roots.
	CAFile string `json:"ca_file,omitempty"`
	// The name to verify in the server's certificate when it
	// differs from the address's host. Takes placeholders. Default: the
	// host of the address.
	ServerName string `json:"server_name,omitempty"`
}

// Defaults of the Redis settings.
const (
	DefaultRedisAddress      = "127.0.0.1:6379"
	DefaultRedisKeyPrefix    = "sgid:"
	DefaultRedisDialTimeout  = 2 * time.Second
	DefaultRedisReadTimeout  = time.Second
	DefaultRedisWriteTimeout = time.Second
)

// CaddyModule returns the Caddy module information.
func (*Redis) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sgid.stores.redis",
		New: func() caddy.Module { return new(Redis) },
	}
}

// Provision resolves placeholders, reads the CA file and builds the
// client. The client connects lazily, so provisioning makes no network
// call (it also runs for `caddy validate` and `caddy adapt`).
func (r *Redis) Provision(caddy.Context) error {
	opts, err := r.options(caddy.NewReplacer())
	if err != nil {
		return err
	}
	r.client = redis.NewUniversalClient(opts)
	return nil
}

// options turns the config into go-redis options. Resolved secrets go
// into the options only, never back into the config fields, so a config
// read back through the admin API shows the placeholders.
func (r *Redis) options(repl *caddy.Replacer) (*redis.UniversalOptions, error) {
	var addrs []string
	for _, a := range r.Addresses {
		addrs = append(addrs, strings.FieldsFunc(repl.ReplaceAll(a, ""), func(c rune) bool {
			return c == ',' || c == ' ' || c == '\t' || c == '\n'
		})...)
	}
	if len(r.Addresses) == 0 {
		addrs = []string{DefaultRedisAddress}
	}
	if len(addrs) == 0 {
		return nil, errors.New("store redis: the addresses are empty after replacing placeholders")
	}
	master := repl.ReplaceAll(r.SentinelMaster, "")
	if master == "" && len(addrs) > 1 && r.DB != 0 {
		return nil, errors.New("store redis: several addresses without sentinel_master mean a Cluster, which has only db 0")
	}
	opts := &redis.UniversalOptions{
		Addrs:        addrs,
		MasterName:   master,
		Username:     repl.ReplaceAll(r.Username, ""),
		Password:     repl.ReplaceAll(r.Password, ""),
		DB:           r.DB,
		DialTimeout:  orDefault(r.DialTimeout, DefaultRedisDialTimeout),
		ReadTimeout:  orDefault(r.ReadTimeout, DefaultRedisReadTimeout),
		WriteTimeout: orDefault(r.WriteTimeout, DefaultRedisWriteTimeout),
		// One retry replaces a pooled connection that a Redis restart
		// broke, without multiplying the wait while Redis is down.
		MaxRetries: 1,
	}
	if r.TLS != nil {
		tc, err := r.TLS.config(repl)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = tc
	}
	return opts, nil
}

func (t *RedisTLS) config(repl *caddy.Replacer) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: repl.ReplaceAll(t.ServerName, "")}
	if t.CAFile == "" {
		return tc, nil
	}
	name := repl.ReplaceAll(t.CAFile, "")
	pem, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("store redis: reading the TLS CA file: %w", err)
	}
	tc.RootCAs = x509.NewCertPool()
	if !tc.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("store redis: no PEM certificate in the TLS CA file %s", name)
	}
	return tc, nil
}

func orDefault(d caddy.Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// Validate checks the settings that need no network.
func (r *Redis) Validate() error {
	if r.DB < 0 {
		return errors.New("store redis: db must not be negative")
	}
	for name, d := range map[string]caddy.Duration{"dial_timeout": r.DialTimeout, "read_timeout": r.ReadTimeout, "write_timeout": r.WriteTimeout} {
		if d < 0 {
			return fmt.Errorf("store redis: %s must not be negative", name)
		}
	}
	return nil
}

// Open returns the scope's store; all scopes share this config's client.
func (r *Redis) Open(scope string) (Store, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if r.client == nil {
		return nil, errors.New("store redis: not provisioned")
	}
	prefix := r.KeyPrefix
	if prefix == "" {
		prefix = DefaultRedisKeyPrefix
	}
	return &redisStore{client: r.client, prefix: prefix + scope + ":"}, nil
}

// Cleanup closes the client and its connections. The old config's client
// closes after the new config's has started, so a reload drops nothing.
func (r *Redis) Cleanup() error {
	if r.client != nil {
		return r.client.Close()
	}
	return nil
}

type redisStore struct {
	client redis.UniversalClient
	prefix string
}

func redisErr(op string, err error) error {
	return fmt.Errorf("store: redis: %s: %w", op, err)
}

// redisTTL keeps a positive ttl at least one millisecond, the finest
// expiry Redis takes.
func redisTTL(ttl time.Duration) time.Duration {
	return max(ttl, time.Millisecond)
}

func (s *redisStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	v, err := s.client.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, redisErr("get", err)
	}
	return v, nil
}

func (s *redisStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkPut(key, ttl); err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.prefix+key, value, redisTTL(ttl)).Err(); err != nil {
		return redisErr("set", err)
	}
	return nil
}

func (s *redisStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.Del(ctx, s.prefix+key).Err(); err != nil {
		return redisErr("del", err)
	}
	return nil
}

// PutIfAbsent is SET NX PX, then GET when the key existed. The key can
// expire between the two; then it is tried again. (SET NX GET would do it
// in one step but needs Redis 7.)
func (s *redisStore) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	if err := checkPut(key, ttl); err != nil {
		return nil, err
	}
	k := s.prefix + key
	for range 3 {
		set, err := s.client.SetNX(ctx, k, value, redisTTL(ttl)).Result()
		if err != nil {
			return nil, redisErr("set nx", err)
		}
		if set {
			return clone(value), nil
		}
		v, err := s.client.Get(ctx, k).Bytes()
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, redis.Nil) {
			return nil, redisErr("get", err)
		}
	}
	return nil, redisErr("set nx", errors.New("the key kept expiring between SET NX and GET"))
}

// Create is SET NX PX: Redis checks and sets in one command, so of
// concurrent callers on any instance exactly one creates the key.
func (s *redisStore) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkPut(key, ttl); err != nil {
		return false, err
	}
	created, err := s.client.SetNX(ctx, s.prefix+key, value, redisTTL(ttl)).Result()
	if err != nil {
		return false, redisErr("set nx", err)
	}
	if !created {
		// The client retries a command whose answer did not come within
		// read_timeout (a loaded Redis): the first try may have set the
		// key, and the retry then finds it. A record is sealed with a
		// fresh random nonce, so the key holding exactly this value is
		// this call's own write, not an earlier one's.
		held, err := s.client.Get(ctx, s.prefix+key).Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			return false, nil
		case err != nil:
			return false, redisErr("get", err)
		}
		return bytes.Equal(held, value), nil
	}
	return created, nil
}

// A set is a sorted set under KeyPrefix + scope + ":set:" + name (a record
// key has no colon, so the two never collide), scored by each member's
// expiry in unix milliseconds. The key itself expires with its longest
// lived member.

func (s *redisStore) setKey(set string) string { return s.prefix + "set:" + set }

// addMemberScript drops the set's expired members, adds the member with
// its expiry, and extends the key's lifetime when the member outlives it;
// as one script it runs atomically, so concurrent adds never shorten the
// set's life.
var addMemberScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
	redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
`)

func (s *redisStore) AddMember(ctx context.Context, set, member string, ttl time.Duration) error {
	if err := checkMember(set, member); err != nil {
		return err
	}
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	ttl = redisTTL(ttl)
	now := time.Now()
	err := addMemberScript.Run(ctx, s.client, []string{s.setKey(set)},
		now.UnixMilli(), now.Add(ttl).UnixMilli(), ttl.Milliseconds(), member).Err()
	if err != nil {
		return redisErr("add member", err)
	}
	return nil
}

func (s *redisStore) RemoveMember(ctx context.Context, set, member string) error {
	if err := checkMember(set, member); err != nil {
		return err
	}
	if err := s.client.ZRem(ctx, s.setKey(set), member).Err(); err != nil {
		return redisErr("zrem", err)
	}
	return nil
}

func (s *redisStore) Members(ctx context.Context, set string) ([]string, error) {
	if err := checkKey(set); err != nil {
		return nil, err
	}
	out, err := s.client.ZRangeByScore(ctx, s.setKey(set), &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf",
	}).Result()
	if err != nil {
		return nil, redisErr("zrangebyscore", err)
	}
	return out, nil
}

func (s *redisStore) DeleteSet(ctx context.Context, set string) error {
	if err := checkKey(set); err != nil {
		return err
	}
	if err := s.client.Del(ctx, s.setKey(set)).Err(); err != nil {
		return redisErr("del", err)
	}
	return nil
}

// Sets SCANs for the scope's set keys, on every master of a Cluster.
func (s *redisStore) Sets(ctx context.Context) ([]string, error) {
	pattern := globEscape(s.prefix) + "set:*"
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			out = append(out, strings.TrimPrefix(it.Val(), s.prefix+"set:"))
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return nil, redisErr("scan", err)
	}
	return out, nil
}

// globEscape quotes the characters SCAN's MATCH pattern treats as special,
// since key_prefix may hold any of them.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Close does nothing: the client belongs to the module and closes in its
// Cleanup.
func (s *redisStore) Close() error { return nil }

// Interface guards
var (
	_ caddy.Provisioner  = (*Redis)(nil)
	_ caddy.Validator    = (*Redis)(nil)
	_ caddy.CleanerUpper = (*Redis)(nil)
	_ Backend            = (*Redis)(nil)
	_ Store              = (*redisStore)(nil)
)
