package config

import "encoding/json"

// Router is one entry of "routers": a named route table used by the proxy
// filter through router_config_name.
type Router struct {
	RouterConfigName string          `json:"router_config_name,omitempty"`
	VirtualHosts     json.RawMessage `json:"virtual_hosts,omitempty"`
}
