package officer

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
)

// What a session keeps of an officer's jobs, in its data beside sgID's
// fields: the jobs to choose from under ProfilesKey and the choice under
// ChosenKey, both the handler's own (never forwarded, nor answered by
// userinfo), and the chosen job's Fields under FieldKeys, which are
// forwarded like any data field.
const (
	// ProfilesKey holds the jobs allow_officer lets through (every job
	// without it), as a JSON array of objects with sgID's field names,
	// as Parse left them.
	ProfilesKey = "officer.profiles"
	// ChosenKey holds the position of the chosen job in ProfilesKey's
	// list, in decimal from 0; it is absent while the choice is pending.
	ChosenKey = "officer.chosen"
)

// Jobs are an officer's jobs as a session keeps them.
type Jobs struct {
	// Profiles are the jobs the user may act as.
	Profiles []Profile
	// Chosen is the position of the chosen job in Profiles, or -1.
	Chosen int
}

// Pending reports whether the session whose data is data still has to
// choose a job: it has jobs and none is chosen. It only looks keys up, so
// that the guard can ask it on every request.
func Pending(data map[string]string) bool {
	return data[ProfilesKey] != "" && data[ChosenKey] == ""
}

// Own reports whether key is one of the keys the handler keeps for
// itself (ProfilesKey, ChosenKey), which are never placeholders, headers
// nor part of userinfo's answer.
func Own(key string) bool { return key == ProfilesKey || key == ChosenKey }

// Derived reports whether key is one the handler derives from sgID's
// officer details (Own, or a field of the chosen job): userinfo leaves
// them out, so that it stays what sgID's SDK returns.
func Derived(key string) bool { return Own(key) || slices.Contains(FieldKeys, key) }

// Read returns the jobs kept in a session's data; ok is false for a
// session without any (not an officer, or no officer scope) and for a
// value this package did not write.
func Read(data map[string]string) (j Jobs, ok bool) {
	raw := data[ProfilesKey]
	if raw == "" || json.Unmarshal([]byte(raw), &j.Profiles) != nil || len(j.Profiles) == 0 {
		return Jobs{}, false
	}
	j.Chosen = -1
	if c, ok := data[ChosenKey]; ok {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n >= len(j.Profiles) {
			return Jobs{}, false
		}
		j.Chosen = n
	}
	return j, true
}

// Choose returns the data of a session whose data is data once the user
// has chosen the job whose id under key is id: a copy of data with that
// job chosen, the officer.* fields of any job chosen before replaced by
// the new one's (kept as keep, keep_fields, says). ok is false, and data
// not copied, when the session has no jobs or none has that id.
func Choose(data map[string]string, id string, key []byte, keep []string) (next map[string]string, chosen Entry, ok bool) {
	j, ok := Read(data)
	if !ok {
		return nil, Entry{}, false
	}
	p, ok := Find(j.Profiles, id, key)
	if !ok {
		return nil, Entry{}, false
	}
	j.Chosen = slices.Index(j.Profiles, p)
	next = maps.Clone(data)
	for _, k := range FieldKeys {
		delete(next, k)
	}
	j.put(next, keep)
	return next, Entry{ID: id, Profile: p}, true
}

// put writes j into data: the jobs, the choice when there is one, and the
// chosen job's fields that keep keeps (nil keeps every one).
func (j Jobs) put(data map[string]string, keep []string) {
	// Profiles of strings always encode.
	raw, _ := json.Marshal(j.Profiles)
	data[ProfilesKey] = string(raw)
	if j.Chosen < 0 {
		return
	}
	data[ChosenKey] = strconv.Itoa(j.Chosen)
	for k, v := range j.Profiles[j.Chosen].Fields() {
		if keep == nil || slices.Contains(keep, k) {
			data[k] = v
		}
	}
}

// SessionKey is the key of the profile ids of the session whose id (its
// cookie's value, 256 random bits) is sessionID: IDKey with that id as
// the secret, so that every instance sharing the store derives the same
// ids and nobody without the cookie can tell which job an id names.
func SessionKey(sessionID string) ([]byte, error) {
	return IDKey([]byte(sessionID), "")
}
