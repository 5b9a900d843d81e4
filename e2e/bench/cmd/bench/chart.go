package main

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
)

// A bar chart written as SVG by hand: panels side by side, in each a group
// of bars per post size, a bar per program. A bar is the whole run's rate;
// the short black line across it is the steady state's.

// chartPanel is one plot: say, the producers on kfake.
type chartPanel struct {
	title  string
	series []string     // programs, in bar order
	groups []chartGroup // post sizes, in axis order
}

// chartGroup is the bars of one post size; a value of 0 draws no bar.
type chartGroup struct {
	label  string
	values []float64 // per series: messages per second over the whole run
	steady []float64 // per series: steady-state rate; 0: none
}

// Layout, in SVG user units (pixels).
const (
	panelW, panelH   = 520, 340
	plotL, plotR     = 70, 10  // margins around the plot area within a panel
	plotT, plotB     = 40, 100 // room for the title above, the labels and legend below
	chartCols        = 2
	chartTitleHeight = 40
)

// color gives each series a colour, by its index.
func color(i int) string {
	return [...]string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}[i%6]
}

// niceCeil is the smallest of 1, 2, 2.5 or 5 times a power of ten that is
// at least v: the top of an axis that reads well.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// shortRate formats messages per second for a label: 950, 12.5k, 1.2M.
func shortRate(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// writeChart writes panels, chartCols a row, under title and subtitle,
// above notes (a line each) and the key to bars and lines.
func writeChart(out io.Writer, title, subtitle string, notes []string, panels []chartPanel) error {
	notes = append(notes, "Bars: messages per second over the whole run, from the process's start to the last message; black lines: the steady state, 10% to 90% of the messages.")
	w := bufio.NewWriter(out)
	rows := (len(panels) + chartCols - 1) / chartCols
	width := panelW * min(chartCols, max(1, len(panels)))
	height := chartTitleHeight + 20 + rows*panelH + 16*len(notes)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(w, `<text x="%d" y="22" text-anchor="middle" font-size="16" font-weight="bold">%s</text>`+"\n", width/2, esc(title))
	fmt.Fprintf(w, `<text x="%d" y="42" text-anchor="middle" fill="#555555">%s</text>`+"\n", width/2, esc(subtitle))
	for i, p := range panels {
		x0 := (i % chartCols) * panelW
		y0 := chartTitleHeight + 20 + (i/chartCols)*panelH
		writePanel(w, p, x0, y0)
	}
	for i, n := range notes {
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle" fill="#555555" font-size="11">%s</text>`+"\n",
			width/2, height-16*(len(notes)-i)+10, esc(n))
	}
	fmt.Fprintln(w, "</svg>")
	return w.Flush()
}

func writePanel(w io.Writer, p chartPanel, x0, y0 int) {
	fmt.Fprintf(w, `<g class="panel" transform="translate(%d,%d)">`+"\n", x0, y0)
	fmt.Fprintf(w, `<text x="%d" y="20" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`+"\n", panelW/2, esc(p.title))
	top := 0.0
	for _, g := range p.groups {
		for i := range g.values {
			top = max(top, g.values[i])
			if i < len(g.steady) {
				top = max(top, g.steady[i])
			}
		}
	}
	top = niceCeil(top)
	plotW, plotH := float64(panelW-plotL-plotR), float64(panelH-plotT-plotB)
	y := func(v float64) float64 { return plotT + plotH*(1-v/top) }
	// Axis, with five gridlines.
	for k := 0; k <= 5; k++ {
		v := top * float64(k) / 5
		fmt.Fprintf(w, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", plotL, plotL+plotW, y(v), y(v))
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end" fill="#333333">%s</text>`+"\n", plotL-6, y(v)+4, shortRate(v))
	}
	fmt.Fprintf(w, `<text transform="translate(16,%.1f) rotate(-90)" text-anchor="middle" fill="#333333">messages per second</text>`+"\n", plotT+plotH/2)
	if len(p.groups) > 0 && len(p.series) > 0 {
		groupW := plotW / float64(len(p.groups))
		barW := groupW * 0.8 / float64(len(p.series))
		for gi, g := range p.groups {
			gx := plotL + groupW*float64(gi) + groupW*0.1
			for si := range p.series {
				if si >= len(g.values) || g.values[si] <= 0 {
					continue
				}
				v := g.values[si]
				x := gx + barW*float64(si)
				fmt.Fprintf(w, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" data-value="%g"><title>%s, %s: %s msg/s</title></rect>`+"\n",
					x, y(v), barW-1, y(0)-y(v), color(si), v, esc(p.series[si]), esc(g.label), group(v))
				fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9">%s</text>`+"\n", x+barW/2, y(v)-3, shortRate(v))
				if si < len(g.steady) && g.steady[si] > 0 {
					s := g.steady[si]
					fmt.Fprintf(w, `<line class="steady" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#000000" stroke-width="2" data-value="%g"/>`+"\n",
						x, x+barW-1, y(s), y(s), s)
				}
			}
			fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", gx+groupW*0.4, y(0)+16, esc(g.label))
		}
	}
	// Legend, below the axis.
	for si, s := range p.series {
		lx := plotL + (si%2)*((panelW-plotL)/2)
		ly := panelH - plotB + 36 + (si/2)*16
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			lx, ly-9, color(si), lx+14, ly, esc(s))
	}
	fmt.Fprintln(w, "</g>")
}

func esc(s string) string { return html.EscapeString(s) }
