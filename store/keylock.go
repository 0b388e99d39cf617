package store

import (
	"hash/maphash"
	"sync"
)

// keyLocks serializes this process's writers of one storage lock name,
// whichever store handle they use (an old and a new config during a
// reload share it), while writers of different names never wait for each
// other.
var keyLocks = newKeyedMutex()

// keyedMutexShards spreads the bookkeeping of keyedMutex so that lockers
// of different names rarely meet even on its short internal locks.
const keyedMutexShards = 64

// keyedMutex is a mutex per name, kept only while someone holds or waits
// for it. The shard locks guard the maps for a few instructions and are
// never held while a caller waits for a name.
type keyedMutex struct {
	seed   maphash.Seed
	shards [keyedMutexShards]keyedShard
}

type keyedShard struct {
	mu    sync.Mutex
	names map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func newKeyedMutex() *keyedMutex {
	k := &keyedMutex{seed: maphash.MakeSeed()}
	for i := range k.shards {
		k.shards[i].names = make(map[string]*keyedEntry)
	}
	return k
}

// lock takes the mutex of name, reporting whether it had to wait for
// another holder, and returns the function that releases it.
func (k *keyedMutex) lock(name string) (waited bool, release func()) {
	sh := &k.shards[maphash.String(k.seed, name)%keyedMutexShards]
	sh.mu.Lock()
	e := sh.names[name]
	if e == nil {
		e = new(keyedEntry)
		sh.names[name] = e
	}
	e.refs++
	sh.mu.Unlock()
	if !e.mu.TryLock() {
		waited = true
		e.mu.Lock()
	}
	return waited, func() {
		e.mu.Unlock()
		sh.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(sh.names, name)
		}
		sh.mu.Unlock()
	}
}
