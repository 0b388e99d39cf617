package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(new(Storage))
}

// Storage keeps records in Caddy's configured storage (the global
// `storage` option: the file system by default, or the module operators
// already use to share certificates between instances). Sessions therefore
// survive restarts, and instances sharing the storage share them.
//
// Storage has no expiry, so each record carries its own and an expired
// one is never returned. An index of expiry buckets, in key paths
// sgid/<scope>/x/<bucket end, unix seconds>/<key>, lets a sweep every
// minute list only bucket names and the entries of buckets that have
// ended, never every session. A sweep handles at most 10,000 entries and,
// when it leaves some, runs again a second later rather than a minute. It
// runs under the storage's lock, so of several instances sharing the
// storage one sweeps at a time, and it is skipped when another instance
// finished a sweep within the last half interval.
//
// Layout under sgid/<scope>/: r/<key> the records, m/<set>/<member> the
// set members (one file each, holding its expiry, so that instances adding
// to one set at once never overwrite each other), x/ the expiry index of
// both (a member's entry is named m.<set>.<member>), swept the time of the
// last sweep. Locks: sgid/<scope>/sweep and
// sgid/<scope>/put/<key>. On the file system an index entry is a hard link
// of the file it indexes, so that each write makes one file, not two, and
// a session created in its user's set at login is one file for the
// record, the member and both their index entries.
type Storage struct {
	storage certmagic.Storage
	logger  *zap.Logger

	handles openStores
}

// CaddyModule returns the Caddy module information.
func (*Storage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sgid.stores.storage",
		New: func() caddy.Module { return new(Storage) },
	}
}

// Provision takes the configured storage. It makes no call to it, since
// provisioning also runs for `caddy validate` and `caddy adapt`.
func (s *Storage) Provision(ctx caddy.Context) error {
	s.storage = ctx.Storage()
	s.logger = ctx.Logger()
	if s.storage == nil {
		return errors.New("store storage: Caddy has no storage configured")
	}
	return nil
}

// Open returns the scope's store and starts its sweeper.
func (s *Storage) Open(scope string) (Store, error) {
	if s.storage == nil {
		return nil, errors.New("store storage: not provisioned")
	}
	st, err := newStorageStore(s.storage, scope, s.logger)
	if err != nil {
		return nil, err
	}
	st.startSweeper()
	s.handles.add(st)
	return st, nil
}

// Cleanup stops the sweepers of every store this config opened.
func (s *Storage) Cleanup() error {
	s.handles.closeAll()
	return nil
}

const (
	// bucketWidth is the span of expiry times one index bucket holds. A
	// sweep lists every bucket name, so wider buckets make that list
	// shorter (a 30-day session lifetime gives at most 8640 names) at the
	// price of dropping an expired record's file up to one width later;
	// Get refuses it from its expiry on regardless.
	bucketWidth = 5 * time.Minute
	// sweepInterval is how often each open store tries to sweep.
	sweepInterval = time.Minute
	// sweepPerRun bounds the index entries (records and set members) one
	// sweep handles, so that a burst of expiries never holds the sweep
	// lock, or the storage, for long; sweepAgain is how soon the sweeper
	// comes back for the rest, so that the bound does not bound how many
	// it removes an hour.
	sweepPerRun = 10_000
	sweepAgain  = time.Second
	// recordVersion is the first byte of a record, so the format can
	// change later without misreading old records.
	recordVersion = 1
	headerLen     = 1 + 8
)

// errMalformed is returned for a record this package did not write (or a
// truncated one); it is not ErrNotFound, since that would hide damage.
var errMalformed = errors.New("store: storage: malformed record")

type storageStore struct {
	st       certmagic.Storage
	scope    string
	prefix   string // sgid/<scope>
	logger   *zap.Logger
	now      func() time.Time
	interval time.Duration
	// perRun and again are sweepPerRun and sweepAgain; tests make them
	// small.
	perRun int
	again  time.Duration
	// locks is this process's keyed mutex (keyLocks); a test gives a
	// second store its own to stand for another instance.
	locks *keyedMutex

	stop      chan struct{}
	done      chan struct{}
	startOnce sync.Once
	closeOnce sync.Once
}

func newStorageStore(st certmagic.Storage, scope string, logger *zap.Logger) (*storageStore, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &storageStore{
		st:       st,
		scope:    scope,
		prefix:   "sgid/" + scope,
		logger:   logger,
		now:      time.Now,
		interval: sweepInterval,
		perRun:   sweepPerRun,
		again:    sweepAgain,
		locks:    keyLocks,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}, nil
}

func (s *storageStore) recordKey(key string) string { return s.prefix + "/r/" + key }
func (s *storageStore) indexDir() string            { return s.prefix + "/x" }
func (s *storageStore) setsDir() string             { return s.prefix + "/m" }
func (s *storageStore) setDir(set string) string    { return s.setsDir() + "/" + set }
func (s *storageStore) memberKey(set, member string) string {
	return s.setDir(set) + "/" + member
}
func (s *storageStore) markerKey() string         { return s.prefix + "/swept" }
func (s *storageStore) sweepLock() string         { return s.prefix + "/sweep" }
func (s *storageStore) putLock(key string) string { return s.prefix + "/put/" + key }

// bucketEnd is the end of the expiry bucket holding t: t rounded up to a
// multiple of bucketWidth, in unix seconds.
func bucketEnd(t time.Time) int64 {
	w := int64(bucketWidth / time.Second)
	return (t.Unix() + w) / w * w
}

func encodeRecord(value []byte, expires time.Time) []byte {
	b := make([]byte, headerLen+len(value))
	b[0] = recordVersion
	binary.BigEndian.PutUint64(b[1:headerLen], uint64(expires.UnixNano()))
	copy(b[headerLen:], value)
	return b
}

func decodeRecord(b []byte) (value []byte, expires time.Time, err error) {
	if len(b) < headerLen || b[0] != recordVersion {
		return nil, time.Time{}, errMalformed
	}
	expires = time.Unix(0, int64(binary.BigEndian.Uint64(b[1:headerLen])))
	return b[headerLen:], expires, nil
}

func storageErr(op string, err error) error {
	return fmt.Errorf("store: storage: %s: %w", op, err)
}

func (s *storageStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b, err := s.load(ctx, s.recordKey(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, storageErr("load", err)
	}
	v, expires, err := decodeRecord(b)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(expires) {
		return nil, ErrNotFound
	}
	return v, nil
}

// Put writes the index entry before the record: a record without an index
// entry would never be swept, while an entry without a record costs the
// sweep one failed load.
func (s *storageStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkPut(key, ttl); err != nil {
		return err
	}
	expires := s.now().Add(ttl)
	if fsys, ok := s.st.(*certmagic.FileStorage); ok {
		if done, err := s.putLinked(fsys, s.recordKey(key), s.indexKey(key, expires), encodeRecord(value, expires)); done {
			return err
		}
	}
	if err := s.index(ctx, key, expires); err != nil {
		return err
	}
	if err := s.st.Store(ctx, s.recordKey(key), encodeRecord(value, expires)); err != nil {
		return storageErr("store", err)
	}
	return nil
}

// indexKey is the storage key of the index entry of entry (a record key,
// or m.<set>.<member>) in the expiry bucket of expires.
func (s *storageStore) indexKey(entry string, expires time.Time) string {
	return s.indexDir() + "/" + strconv.FormatInt(bucketEnd(expires), 10) + "/" + entry
}

// index files entry (a record key, or m.<set>.<member>) in the expiry
// bucket of expires.
func (s *storageStore) index(ctx context.Context, entry string, expires time.Time) error {
	idx := s.indexKey(entry, expires)
	// A renewal within the same bucket finds its entry there already; a
	// stat is much cheaper than a synced write.
	if !s.st.Exists(ctx, idx) {
		if err := s.st.Store(ctx, idx, nil); err != nil {
			return storageErr("store index", err)
		}
	}
	return nil
}

// AddMember indexes the member before writing it, as Put does.
func (s *storageStore) AddMember(ctx context.Context, set, member string, ttl time.Duration) error {
	if err := checkMember(set, member); err != nil {
		return err
	}
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	expires := s.now().Add(ttl)
	entry := "m." + set + "." + member
	if fsys, ok := s.st.(*certmagic.FileStorage); ok {
		if done, err := s.putLinked(fsys, s.memberKey(set, member), s.indexKey(entry, expires), encodeRecord(nil, expires)); done {
			return err
		}
	}
	if err := s.index(ctx, entry, expires); err != nil {
		return err
	}
	if err := s.st.Store(ctx, s.memberKey(set, member), encodeRecord(nil, expires)); err != nil {
		return storageErr("store member", err)
	}
	return nil
}

func (s *storageStore) RemoveMember(ctx context.Context, set, member string) error {
	if err := checkMember(set, member); err != nil {
		return err
	}
	if err := s.st.Delete(ctx, s.memberKey(set, member)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return storageErr("delete member", err)
	}
	return nil
}

func (s *storageStore) Members(ctx context.Context, set string) ([]string, error) {
	if err := checkKey(set); err != nil {
		return nil, err
	}
	names, err := s.st.List(ctx, s.setDir(set), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, storageErr("list", err)
	}
	now := s.now()
	var out []string
	for _, n := range names {
		member := path.Base(n)
		if checkKey(member) != nil {
			continue
		}
		b, err := s.load(ctx, s.memberKey(set, member))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, storageErr("load member", err)
		}
		if _, expires, err := decodeRecord(b); err == nil && now.Before(expires) {
			out = append(out, member)
		}
	}
	return out, nil
}

func (s *storageStore) DeleteSet(ctx context.Context, set string) error {
	if err := checkKey(set); err != nil {
		return err
	}
	if err := s.st.Delete(ctx, s.setDir(set)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return storageErr("delete set", err)
	}
	return nil
}

func (s *storageStore) Sets(ctx context.Context) ([]string, error) {
	names, err := s.st.List(ctx, s.setsDir(), false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, storageErr("list", err)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if set := path.Base(n); checkKey(set) == nil {
			out = append(out, set)
		}
	}
	return out, nil
}

func (s *storageStore) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.st.Delete(ctx, s.recordKey(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return storageErr("delete", err)
	}
	return nil
}

// PutIfAbsent checks and stores under the locks of the key (see
// lockKey), so instances sharing the storage agree on one value. A present
// value, the usual case for key material, is read without any lock.
func (s *storageStore) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	if err := checkPut(key, ttl); err != nil {
		return nil, err
	}
	if v, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		return v, err
	}
	var out []byte
	err := s.lockKey(ctx, key, func() (bool, error) {
		v, err := s.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		out = v
		return true, err
	}, func() error {
		out = clone(value)
		return s.Put(ctx, key, value, ttl)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Create stores value under key unless a live record is there: of
// concurrent callers, in this process or in other instances sharing the
// storage, exactly one creates it. On the file system storage a hard link
// decides (see createLinked); otherwise, and to replace an expired record,
// the locks of the key do (see lockKey).
func (s *storageStore) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkPut(key, ttl); err != nil {
		return false, err
	}
	if fsys, ok := s.st.(*certmagic.FileStorage); ok {
		if created, done, err := s.createLinked(ctx, fsys, key, value, ttl, ""); done {
			return created, err
		}
	}
	created := false
	err := s.lockKey(ctx, key, func() (bool, error) {
		_, err := s.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}, func() error {
		created = true
		return s.Put(ctx, key, value, ttl)
	})
	if err != nil {
		return false, err
	}
	return created, nil
}

// CreateInSet is Create and AddMember (see SetCreator). On the file
// system storage, the member is a further name of the record's file (see
// fileLinked): one synced file per login rather than two, with the same
// guarantee, since each name is made only once the file is synced, as
// before. Elsewhere, and on Create's locked path, it is the two calls.
func (s *storageStore) CreateInSet(ctx context.Context, key string, value []byte, ttl time.Duration, set string) (bool, error) {
	if err := checkCreateInSet(key, ttl, set); err != nil {
		return false, err
	}
	if fsys, ok := s.st.(*certmagic.FileStorage); ok {
		if created, done, err := s.createLinked(ctx, fsys, key, value, ttl, set); done {
			return created, err
		}
	}
	return createThenAdd(ctx, s, key, value, ttl, set)
}

// lockKey runs write unless present reports a live record, holding the
// key's lock in this process and then the storage's lock of the key
// (certmagic's Lock, which other instances sharing the storage honour),
// and checking present again under each. The in-process lock is per key:
// writers of different keys never wait for each other, and callers of
// this process racing on one key wait on a mutex instead of polling the
// storage's lock (the file system storage polls once a second). Only a
// caller that had to wait checks before taking the storage lock, since
// only then can the record have appeared in this process meanwhile.
func (s *storageStore) lockKey(ctx context.Context, key string, present func() (bool, error), write func() error) error {
	name := s.putLock(key)
	waited, release := s.locks.lock(name)
	defer release()
	if waited {
		if ok, err := present(); ok || err != nil {
			return err
		}
	}
	if err := s.st.Lock(ctx, name); err != nil {
		return storageErr("lock", err)
	}
	defer s.unlock(name)
	if ok, err := present(); ok || err != nil {
		return err
	}
	return write()
}

// unlock releases a storage lock even when the caller's context has ended,
// so a cancelled request cannot leave the lock to go stale.
func (s *storageStore) unlock(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.st.Unlock(ctx, name); err != nil {
		s.logger.Warn("releasing a session store lock", zap.String("lock", name), zap.Error(err))
	}
}

func (s *storageStore) startSweeper() {
	s.startOnce.Do(func() { go s.sweepLoop() })
}

func (s *storageStore) sweepLoop() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTimer(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			more, err := s.sweepRun(ctx)
			if err != nil && ctx.Err() == nil {
				s.logger.Warn("sweeping expired sessions", zap.Error(err))
			}
			t.Reset(s.nextSweep(more, err))
		}
	}
}

// nextSweep is how long the sweeper waits after a run: again when the run
// left entries, the interval otherwise (and after a failure, so that a
// failing storage is not asked every second).
func (s *storageStore) nextSweep(more bool, err error) time.Duration {
	if more && err == nil {
		return s.again
	}
	return s.interval
}

// Close stops the sweeper and waits for a sweep in progress to end.
func (s *storageStore) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		started := true
		s.startOnce.Do(func() { started = false })
		if started {
			<-s.done
		}
	})
	return nil
}

// sweepRun deletes the expired records that ended buckets name, and the
// buckets, oldest first, handling at most perRun entries; more reports
// that it left some. It holds the scope's sweep lock; when the storage
// can tell, it gives up at once if another instance holds it rather than
// sweeping after it. Only a run that leaves nothing marks the scope
// swept, so that the rest is taken up by the next run, here or on another
// instance, without waiting for the interval.
func (s *storageStore) sweepRun(ctx context.Context) (more bool, err error) {
	if tl, ok := s.st.(certmagic.TryLocker); ok {
		got, err := tl.TryLock(ctx, s.sweepLock())
		if err != nil {
			return false, storageErr("lock", err)
		}
		if !got {
			return false, nil
		}
	} else if err := s.st.Lock(ctx, s.sweepLock()); err != nil {
		return false, storageErr("lock", err)
	}
	defer s.unlock(s.sweepLock())

	now := s.now()
	if b, err := s.st.Load(ctx, s.markerKey()); err == nil {
		if last, err := strconv.ParseInt(string(b), 10, 64); err == nil && now.Sub(time.Unix(0, last)) < s.interval/2 {
			return false, nil
		}
	}
	names, err := s.st.List(ctx, s.indexDir(), false)
	if errors.Is(err, fs.ErrNotExist) {
		names = nil
	} else if err != nil {
		return false, storageErr("list", err)
	}
	// A bucket is swept one width after its end, so an instance whose clock
	// runs a little ahead does not delete a bucket another is writing to.
	limit := now.Add(-bucketWidth).Unix()
	type bucket struct {
		key string
		end int64
	}
	var ended []bucket
	for _, b := range names {
		end, err := strconv.ParseInt(path.Base(b), 10, 64)
		if err != nil || end > limit {
			continue
		}
		ended = append(ended, bucket{b, end})
	}
	slices.SortFunc(ended, func(a, b bucket) int { return cmp.Compare(a.end, b.end) })
	budget := s.perRun
	for _, b := range ended {
		if budget <= 0 {
			return true, nil
		}
		n, done, err := s.sweepBucket(ctx, b.key, now, budget)
		if err != nil {
			return false, err
		}
		budget -= n
		if !done {
			return true, nil
		}
	}
	return false, s.st.Store(ctx, s.markerKey(), []byte(strconv.FormatInt(now.UnixNano(), 10)))
}

// sweepBucket deletes the expired records the bucket names, at most
// budget entries of it, and then the bucket when it handled them all
// (done); it returns how many entries it handled. A record renewed since
// (Put with a later expiry) is kept: its newer index entry is in a later
// bucket. When it stops short, it deletes the entries it handled, so the
// next run starts where this one stopped.
func (s *storageStore) sweepBucket(ctx context.Context, bucket string, now time.Time, budget int) (handled int, done bool, err error) {
	entries, err := s.st.List(ctx, bucket, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, false, storageErr("list", err)
	}
	done = len(entries) <= budget
	if !done {
		entries = entries[:budget]
	}
	for _, e := range entries {
		key := path.Base(e)
		file := s.recordKey(key)
		if rest, ok := strings.CutPrefix(key, "m."); ok {
			set, member, _ := strings.Cut(rest, ".")
			if checkMember(set, member) != nil {
				continue
			}
			file = s.memberKey(set, member)
		} else if checkKey(key) != nil {
			continue
		}
		if err := s.sweepEntry(ctx, file, now); err != nil {
			return 0, false, err
		}
	}
	if !done {
		for _, e := range entries {
			if err := s.st.Delete(ctx, e); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return 0, false, storageErr("delete", err)
			}
		}
		return len(entries), false, nil
	}
	if err := s.st.Delete(ctx, bucket); err != nil {
		return 0, false, storageErr("delete", err)
	}
	return len(entries), true, nil
}

// sweepEntry deletes file, a record or a set member, when it has expired.
func (s *storageStore) sweepEntry(ctx context.Context, file string, now time.Time) error {
	b, err := s.load(ctx, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return storageErr("load", err)
	}
	if _, expires, err := decodeRecord(b); err == nil && now.Before(expires) {
		return nil
	}
	if err := s.st.Delete(ctx, file); err != nil {
		return storageErr("delete", err)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner  = (*Storage)(nil)
	_ caddy.CleanerUpper = (*Storage)(nil)
	_ Backend            = (*Storage)(nil)
	_ Store              = (*storageStore)(nil)
	_ SetCreator         = (*storageStore)(nil)
)
