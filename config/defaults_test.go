package config

import (
	"runtime"
	"testing"
	"time"
)

func dur(d time.Duration) *Duration {
	v := Duration(d)
	return &v
}

func TestDefaults(t *testing.T) {
	var s Server
	var c Cluster
	var h Host
	var hc HealthCheck
	var ra RouteAction
	var rd Redirect
	var rm RouteMatch
	var hv HeaderValueOption
	var od OriginalDstLbConfig
	var out OutlierDetection
	tests := []struct {
		name      string
		got, want any
	}{
		{"graceful timeout", s.GracefulTimeoutOrDefault(), 30 * time.Second},
		{"processor", s.ProcessorOrDefault(), runtime.NumCPU()},
		{"log level", s.LogLevelOrDefault(), "INFO"},
		{"cluster type", c.TypeOrDefault(), "SIMPLE"},
		{"connect timeout", c.ConnectTimeoutOrDefault(), 10 * time.Second},
		{"max request per conn", c.MaxRequestPerConnOrDefault(), uint32(1024)},
		{"conn buffer limit", c.ConnBufferLimitOrDefault(), uint32(16384)},
		{"lb type", c.LbTypeOrDefault(), "LB_ROUNDROBIN"},
		{"host weight", h.WeightOrDefault(), uint32(1)},
		{"hc protocol", hc.ProtocolOrDefault(), "tcp"},
		{"hc timeout", hc.TimeoutOrDefault(), time.Second},
		{"hc interval", hc.IntervalOrDefault(), 15 * time.Second},
		{"hc jitter", hc.IntervalJitterOrDefault(), 5 * time.Millisecond},
		{"hc healthy", hc.HealthyThresholdOrDefault(), uint32(1)},
		{"hc unhealthy", hc.UnhealthyThresholdOrDefault(), uint32(1)},
		{"route timeout", ra.TimeoutOrDefault(), 60 * time.Second},
		{"redirect code", rd.ResponseCodeOrDefault(), 301},
		{"case sensitive", rm.CaseSensitiveOrDefault(), true},
		{"append", hv.AppendOrDefault(), true},
		{"original dst header", od.HeaderNameOrDefault(), "host"},
		{"outlier errors", out.ConsecutiveErrorsOrDefault(), uint32(5)},
		{"outlier base", out.BaseEjectionTimeOrDefault(), 30 * time.Second},
		{"outlier max", out.MaxEjectionTimeOrDefault(), 300 * time.Second},
		{"outlier percent", out.MaxEjectionPercentOrDefault(), uint32(10)},
		{"listener network", (&Listener{}).NetworkOrDefault(), "tcp"},
		{"admin addr", (&Admin{}).Addr(), "0.0.0.0:0"},
		{"pprof addr", (&Pprof{}).Addr(), "0.0.0.0:9090"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestDefaultsOverridden(t *testing.T) {
	p := Processor(3)
	f := false
	s := Server{GracefulTimeout: dur(5 * time.Second), Processor: &p, DefaultLogLevel: "DEBUG"}
	c := Cluster{Type: "ORIGINAL_DST", ConnectTimeout: dur(time.Second), MaxRequestPerConn: 7, ConnBufferLimitBytes: 9, LbType: "LB_RANDOM"}
	hc := HealthCheck{Protocol: "bolt", Timeout: dur(2 * time.Second), Interval: dur(3 * time.Second), IntervalJitter: dur(time.Millisecond), HealthyThreshold: 4, UnhealthyThreshold: 5}
	tests := []struct {
		name      string
		got, want any
	}{
		{"graceful timeout", s.GracefulTimeoutOrDefault(), 5 * time.Second},
		{"processor", s.ProcessorOrDefault(), 3},
		{"log level", s.LogLevelOrDefault(), "DEBUG"},
		{"zero graceful timeout means default", (&Server{GracefulTimeout: dur(0)}).GracefulTimeoutOrDefault(), 30 * time.Second},
		{"cluster type", c.TypeOrDefault(), "ORIGINAL_DST"},
		{"connect timeout", c.ConnectTimeoutOrDefault(), time.Second},
		{"max request per conn", c.MaxRequestPerConnOrDefault(), uint32(7)},
		{"conn buffer limit", c.ConnBufferLimitOrDefault(), uint32(9)},
		{"lb type", c.LbTypeOrDefault(), "LB_RANDOM"},
		{"host weight", (&Host{Weight: 50}).WeightOrDefault(), uint32(50)},
		{"hc protocol", hc.ProtocolOrDefault(), "bolt"},
		{"hc timeout", hc.TimeoutOrDefault(), 2 * time.Second},
		{"hc interval", hc.IntervalOrDefault(), 3 * time.Second},
		{"hc jitter", hc.IntervalJitterOrDefault(), time.Millisecond},
		{"hc healthy", hc.HealthyThresholdOrDefault(), uint32(4)},
		{"hc unhealthy", hc.UnhealthyThresholdOrDefault(), uint32(5)},
		{"route timeout", (&RouteAction{Timeout: dur(time.Minute * 2)}).TimeoutOrDefault(), 2 * time.Minute},
		{"redirect code", (&Redirect{ResponseCode: 302}).ResponseCodeOrDefault(), 302},
		{"case sensitive", (&RouteMatch{CaseSensitive: &f}).CaseSensitiveOrDefault(), false},
		{"append", (&HeaderValueOption{Append: &f}).AppendOrDefault(), false},
		{"original dst header", (&OriginalDstLbConfig{HeaderName: "x-dst"}).HeaderNameOrDefault(), "x-dst"},
		{"outlier errors", (&OutlierDetection{ConsecutiveErrors: 2}).ConsecutiveErrorsOrDefault(), uint32(2)},
		{"outlier base", (&OutlierDetection{BaseEjectionTime: dur(time.Second)}).BaseEjectionTimeOrDefault(), time.Second},
		{"outlier max", (&OutlierDetection{MaxEjectionTime: dur(time.Minute)}).MaxEjectionTimeOrDefault(), time.Minute},
		{"outlier max follows a longer base", (&OutlierDetection{BaseEjectionTime: dur(10 * time.Minute)}).MaxEjectionTimeOrDefault(), 10 * time.Minute},
		{"outlier zero base means default", (&OutlierDetection{BaseEjectionTime: dur(0)}).BaseEjectionTimeOrDefault(), 30 * time.Second},
		{"outlier percent", (&OutlierDetection{MaxEjectionPercent: 100}).MaxEjectionPercentOrDefault(), uint32(100)},
		{"admin addr", (&Admin{Address: AdminAddress{SocketAddress{Address: "::1", PortValue: 34901}}}).Addr(), "[::1]:34901"},
		{"pprof addr", (&Pprof{Endpoint: "127.0.0.1", PortValue: 6060}).Addr(), "127.0.0.1:6060"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLookups(t *testing.T) {
	var nilCfg *Config
	if nilCfg.Server() != nil || nilCfg.ClusterByName("a") != nil || nilCfg.RouterByName("a") != nil || nilCfg.ListenerByName("a") != nil {
		t.Error("lookups on a nil config are not nil")
	}
	empty := &Config{}
	if empty.Server() != nil || empty.RouterByName("a") != nil || empty.ListenerByName("a") != nil {
		t.Error("lookups on an empty config are not nil")
	}
	cfg := &Config{
		Servers: []Server{{
			Listeners: []Listener{{Name: "l1"}, {Name: "l2"}},
			Routers:   []Router{{RouterConfigName: "r1"}, {RouterConfigName: "r2"}},
		}},
		ClusterManager: ClusterManager{Clusters: []Cluster{{Name: "c1"}, {Name: "c2"}}},
	}
	if l := cfg.ListenerByName("l2"); l != &cfg.Servers[0].Listeners[1] {
		t.Errorf("ListenerByName = %p", l)
	}
	if r := cfg.RouterByName("r2"); r != &cfg.Servers[0].Routers[1] {
		t.Errorf("RouterByName = %p", r)
	}
	if c := cfg.ClusterByName("c2"); c != &cfg.ClusterManager.Clusters[1] {
		t.Errorf("ClusterByName = %p", c)
	}
	if cfg.ClusterByName("c3") != nil || cfg.RouterByName("x") != nil || cfg.ListenerByName("x") != nil {
		t.Error("unknown names found")
	}
}
