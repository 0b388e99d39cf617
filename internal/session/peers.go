package session

import (
	"sync"

	"github.com/caddyserver/caddy/v2"
)

// scopes holds, per store scope, the Managers of this process that share
// it (see Options.Scope), as Caddy's usage pools hold what a reload's old
// and new configs share.
var scopes = caddy.NewUsagePool()

// peers are the live Managers of one scope.
type peers struct {
	scope    string
	mu       sync.Mutex
	managers []*Manager
}

// Destruct is called by the pool when the last Manager of the scope
// closes.
func (*peers) Destruct() error { return nil }

// joinPeers adds m to the peers of scope; nil without a scope.
func joinPeers(scope string, m *Manager) *peers {
	if scope == "" {
		return nil
	}
	v, _, _ := scopes.LoadOrNew(scope, func() (caddy.Destructor, error) { return &peers{scope: scope}, nil })
	p := v.(*peers)
	p.mu.Lock()
	p.managers = append(p.managers, m)
	p.mu.Unlock()
	return p
}

// others are the peers of m other than m itself.
func (p *peers) others(m *Manager) []*Manager {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Manager, 0, len(p.managers))
	for _, o := range p.managers {
		if o != m {
			out = append(out, o)
		}
	}
	return out
}

// Close takes the Manager out of its scope's peers; the sessions it holds
// stay in the store. A Manager is closed once, when its config goes.
func (m *Manager) Close() {
	p := m.peers
	if p == nil {
		return
	}
	p.mu.Lock()
	for i, o := range p.managers {
		if o == m {
			p.managers = append(p.managers[:i], p.managers[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	m.peers = nil
	_, _ = scopes.Delete(p.scope)
}
