package mock

import "time"

// expiringTable maps keys to values that all live equally long, so the order
// entries were added in is the order they expire in. A queue of keys in that
// order finds every expired entry without looking at the live ones: adding,
// finding and sweeping cost O(1) amortised however full the table is. (A
// scan of the whole map on every request, under the provider's lock, made
// the mock inside Caddy slower with every login it had served.)
//
// The table also holds at most max entries. Adding to a full table drops
// the oldest entry, which would have expired first anyway, so a flood of
// logins costs bounded memory and degrades only the oldest logins.
//
// A clock that goes backwards (possible with Options.Now) only delays
// sweeping: get never returns an expired entry, whatever the queue says.
// An expiringTable is not safe for concurrent use; the provider's mutex
// guards it.
type expiringTable[V any] struct {
	max     int
	entries map[string]expiringEntry[V]
	// queue holds the keys oldest first from head on. An entry removed by
	// remove stays queued until it reaches the head ("stale"); stale items
	// are skipped, and compacted away when they could outnumber live ones.
	queue []queuedKey
	head  int
}

type expiringEntry[V any] struct {
	v       V
	expires time.Time
}

type queuedKey struct {
	key     string
	expires time.Time
}

func newExpiringTable[V any](max int) *expiringTable[V] {
	return &expiringTable[V]{max: max, entries: map[string]expiringEntry[V]{}}
}

// get returns the live entry under key.
func (t *expiringTable[V]) get(key string, now time.Time) (V, bool) {
	e, ok := t.entries[key]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// add stores v under key until expires, first sweeping what has expired by
// now and, if the table is still full, dropping the oldest entries.
func (t *expiringTable[V]) add(key string, v V, expires, now time.Time) {
	t.sweep(now)
	for len(t.entries) >= t.max && t.head < len(t.queue) {
		t.pop()
	}
	t.entries[key] = expiringEntry[V]{v, expires}
	t.queue = append(t.queue, queuedKey{key, expires})
	if len(t.queue)-t.head > 2*t.max {
		t.compact()
	}
}

// remove deletes the entry under key, if any.
func (t *expiringTable[V]) remove(key string) { delete(t.entries, key) }

// sweep drops the entries that have expired by now. It looks only at the
// expired ones and the first live one.
func (t *expiringTable[V]) sweep(now time.Time) {
	for t.head < len(t.queue) && !now.Before(t.queue[t.head].expires) {
		t.pop()
	}
}

// pop drops the oldest queued key and its entry, unless the entry under
// that key is a newer one.
func (t *expiringTable[V]) pop() {
	q := t.queue[t.head]
	t.queue[t.head] = queuedKey{} // let the key's memory go
	t.head++
	if e, ok := t.entries[q.key]; ok && e.expires.Equal(q.expires) {
		delete(t.entries, q.key)
	}
	if t.head == len(t.queue) {
		t.queue, t.head = t.queue[:0], 0
	} else if t.head >= 1024 && t.head*2 >= len(t.queue) {
		// Move the live part to the front once the dead part is the
		// larger, so the slice does not grow without end.
		n := copy(t.queue, t.queue[t.head:])
		clear(t.queue[n:])
		t.queue, t.head = t.queue[:n], 0
	}
}

// compact drops stale keys from the queue, keeping its order.
func (t *expiringTable[V]) compact() {
	live := t.queue[:0]
	for _, q := range t.queue[t.head:] {
		if e, ok := t.entries[q.key]; ok && e.expires.Equal(q.expires) {
			live = append(live, q)
		}
	}
	clear(t.queue[len(live):])
	t.queue, t.head = live, 0
}

// len returns the number of entries, expired or not.
func (t *expiringTable[V]) len() int { return len(t.entries) }
