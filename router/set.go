package router

import "mosn.dev/proxy/config"

// Set holds the compiled tables of a config by router_config_name. It is
// immutable and safe for concurrent use.
type Set struct {
	tables map[string]*Table
}

// BuildAll compiles every router of the config's server (MOSN has one), at
// paths "servers[0].routers[i]". Problems carry file positions when cfg
// came from config.Parse. A router without a router_config_name, or with a
// name already used, is an error.
func BuildAll(cfg *config.Config) (*Set, error) {
	s := &Set{tables: make(map[string]*Table)}
	srv := cfg.Server()
	if srv == nil {
		return s, nil
	}
	b := &builder{cfg: cfg}
	first := make(map[string]int)
	for i := range srv.Routers {
		rc := &srv.Routers[i]
		rp := config.Path("servers", 0, "routers", i)
		before := len(b.probs)
		switch name := rc.RouterConfigName; {
		case name == "":
			b.errorf(config.Path(rp, "router_config_name"), "a router_config_name is required")
		default:
			if j, dup := first[name]; dup {
				b.errorf(config.Path(rp, "router_config_name"), "duplicate router_config_name %q (first at %s)", name, config.Path("servers", 0, "routers", j))
			} else {
				first[name] = i
			}
		}
		t := b.table(rc, rp)
		if len(b.probs) == before {
			s.tables[rc.RouterConfigName] = t
		}
	}
	if err := b.probs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Get returns the table named name, or nil.
func (s *Set) Get(name string) *Table {
	if s == nil {
		return nil
	}
	return s.tables[name]
}

// Len is the number of tables.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.tables)
}
