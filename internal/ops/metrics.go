package ops

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The service keeps its totals in atomic counters; these helpers register
// collectors that read them at scrape time, so ops needs none of the
// service's packages and the service's packages need no Prometheus.

// CounterFunc registers a counter whose value is fn() at scrape time. The same
// name may be registered again with other label values (one per topic, ...).
func CounterFunc(reg prometheus.Registerer, name, help string, labels prometheus.Labels, fn func() float64) error {
	return reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, fn))
}

// GaugeFunc registers a gauge whose value is fn() at scrape time.
func GaugeFunc(reg prometheus.Registerer, name, help string, labels prometheus.Labels, fn func() float64) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, fn))
}

// Emit reports one sample of a family: its value and one value per label name.
type Emit func(value float64, labelValues ...string)

// CounterVecFunc registers a counter family whose label values are known only
// at scrape time (kinds seen so far, ...): fn calls emit once per sample.
func CounterVecFunc(reg prometheus.Registerer, name, help string, labelNames []string, fn func(emit Emit)) error {
	return reg.Register(&vecFunc{desc: prometheus.NewDesc(name, help, labelNames, nil), typ: prometheus.CounterValue, fn: fn})
}

// GaugeVecFunc registers a gauge family whose label values are known only at
// scrape time (the partitions assigned now, ...).
func GaugeVecFunc(reg prometheus.Registerer, name, help string, labelNames []string, fn func(emit Emit)) error {
	return reg.Register(&vecFunc{desc: prometheus.NewDesc(name, help, labelNames, nil), typ: prometheus.GaugeValue, fn: fn})
}

// Int64 reads v as a sample value.
func Int64(v *atomic.Int64) func() float64 {
	return func() float64 { return float64(v.Load()) }
}

// Bool reads v as a sample value: 1 for true, 0 for false.
func Bool(v *atomic.Bool) func() float64 {
	return func() float64 {
		if v.Load() {
			return 1
		}
		return 0
	}
}

type vecFunc struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	fn   func(emit Emit)
}

func (c *vecFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *vecFunc) Collect(ch chan<- prometheus.Metric) {
	c.fn(func(v float64, labelValues ...string) {
		m, err := prometheus.NewConstMetric(c.desc, c.typ, v, labelValues...)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.desc, err)
		}
		ch <- m
	})
}
