package sgidcheck

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Found is an sgid handler of a config: its JSON, to be decoded by the
// caller, and the name of the server it is in.
type Found struct {
	Server string
	JSON   json.RawMessage
}

// FindHandlers returns the sgid handlers of an adapted JSON config, server
// by server in name order, in route order within each, including those in
// subroutes and in the servers' error routes.
func FindHandlers(cfg []byte) ([]Found, error) {
	type routes []struct {
		Handle []json.RawMessage `json:"handle"`
	}
	type server struct {
		Routes routes `json:"routes"`
		Errors *struct {
			Routes routes `json:"routes"`
		} `json:"errors"`
	}
	var doc struct {
		Apps struct {
			HTTP struct {
				Servers map[string]server `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("reading the adapted config: %w", err)
	}
	var found []Found
	var walk func(name string, rs routes) error
	walk = func(name string, rs routes) error {
		for _, r := range rs {
			for _, raw := range r.Handle {
				var kind struct {
					Handler string `json:"handler"`
					Routes  routes `json:"routes"`
				}
				if err := json.Unmarshal(raw, &kind); err != nil {
					return fmt.Errorf("server %s: %w", name, err)
				}
				switch kind.Handler {
				case "sgid":
					found = append(found, Found{Server: name, JSON: raw})
				case "subroute":
					if err := walk(name, kind.Routes); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	names := make([]string, 0, len(doc.Apps.HTTP.Servers))
	for name := range doc.Apps.HTTP.Servers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		srv := doc.Apps.HTTP.Servers[name]
		if err := walk(name, srv.Routes); err != nil {
			return nil, err
		}
		if srv.Errors != nil {
			if err := walk(name, srv.Errors.Routes); err != nil {
				return nil, err
			}
		}
	}
	return found, nil
}
