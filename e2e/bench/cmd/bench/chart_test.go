package main

import (
	"bytes"
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"testing"
)

// svgNode is any SVG element, with its attributes and children.
type svgNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []svgNode  `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n svgNode) walk(f func(svgNode)) {
	f(n)
	for _, c := range n.Children {
		c.walk(f)
	}
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return v
}

// TestChartBars draws two panels and reads the SVG back as XML: one bar per
// program and post size that has a value, each as tall as its value on the
// panel's axis, the steady-state lines where given, labels escaped.
func TestChartBars(t *testing.T) {
	panels := []chartPanel{
		{title: "producers <kfake>", series: []string{"tweetpipe", "kcat & co"}, groups: []chartGroup{
			{label: "350 B", values: []float64{50000, 200000}, steady: []float64{60000, 0}},
			{label: "4,700 B", values: []float64{30000, 40000}, steady: []float64{0, 0}},
		}},
		{title: "consumers", series: []string{"tweetpipe", "kcat", "connect"}, groups: []chartGroup{
			{label: "350 B", values: []float64{1000, 0, 500}},
		}},
	}
	var b bytes.Buffer
	if err := writeChart(&b, "title", "sub & more", []string{"machine <x>"}, panels); err != nil {
		t.Fatal(err)
	}
	var root svgNode
	if err := xml.Unmarshal(b.Bytes(), &root); err != nil {
		t.Fatalf("the chart is not XML: %v\n%s", err, b.String())
	}
	if root.XMLName.Local != "svg" {
		t.Fatalf("root element %s; want svg", root.XMLName.Local)
	}
	type bar struct{ value, height, bottom float64 }
	var perPanel [][]bar
	var steady []float64
	var texts []string
	for _, g := range root.Children {
		if g.attr("class") != "panel" {
			if g.XMLName.Local == "text" {
				texts = append(texts, g.Text)
			}
			continue
		}
		var bars []bar
		g.walk(func(n svgNode) {
			switch {
			case n.XMLName.Local == "rect" && n.attr("class") == "bar":
				y, h := num(t, n.attr("y")), num(t, n.attr("height"))
				bars = append(bars, bar{num(t, n.attr("data-value")), h, y + h})
			case n.attr("class") == "steady":
				steady = append(steady, num(t, n.attr("data-value")))
			case n.XMLName.Local == "text":
				texts = append(texts, n.Text)
			}
		})
		perPanel = append(perPanel, bars)
	}
	if len(perPanel) != 2 {
		t.Fatalf("got %d panels; want 2", len(perPanel))
	}
	if got := []int{len(perPanel[0]), len(perPanel[1])}; got[0] != 4 || got[1] != 2 {
		t.Fatalf("got %v bars per panel; want [4 2] (a zero value draws no bar)", got)
	}
	for pi, bars := range perPanel {
		// Heights are proportional to values, from one baseline.
		ref := bars[0]
		for _, br := range bars {
			if math.Abs(br.bottom-ref.bottom) > 0.2 {
				t.Errorf("panel %d: bar of %g ends at %.1f; want the baseline %.1f", pi, br.value, br.bottom, ref.bottom)
			}
			if want := ref.height * br.value / ref.value; math.Abs(br.height-want) > 0.2 {
				t.Errorf("panel %d: bar of %g is %.1f high; want %.1f", pi, br.value, br.height, want)
			}
		}
	}
	if len(steady) != 1 || steady[0] != 60000 {
		t.Errorf("steady lines %v; want [60000]", steady)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"producers <kfake>", "kcat & co", "sub & more", "4,700 B", "200k", "machine <x>"} {
		if !strings.Contains(all, want) {
			t.Errorf("the chart's texts lack %q: %s", want, all)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{0, 1}, {1, 1}, {1.2, 2}, {199000, 200000}, {200001, 250000}, {230000, 250000}, {260000, 500000}, {510000, 1e6},
	} {
		if got := niceCeil(c.in); math.Abs(got-c.want) > 1e-6*c.want {
			t.Errorf("niceCeil(%g) = %g; want %g", c.in, got, c.want)
		}
	}
}

func TestShortRate(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{950, "950"}, {9072, "9.1k"}, {58816, "59k"}, {1.25e6, "1.2M"}} {
		if got := shortRate(c.in); got != c.want {
			t.Errorf("shortRate(%g) = %s; want %s", c.in, got, c.want)
		}
	}
}
