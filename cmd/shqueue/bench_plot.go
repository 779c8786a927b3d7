package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// plotSVG draws the latency percentile curves of a report: one panel per
// message size, one line per transport, the raw floor (the same at every
// size) dashed in each panel. The x axis is the percentile on a "nines"
// scale, x = log10(1/(1-q)), so 0, 90, 99, 99.9, 99.99 % are equally spaced
// and the tail gets the room it deserves; the y axis is one-way latency on a
// log scale. The SVG is written by hand to keep the tool free of plotting
// dependencies.
func plotSVG(rep *report) []byte {
	const (
		panelW, panelH = 560, 380
		marginL        = 72
		marginR        = 44
		marginT        = 40
		marginB        = 52
		legendH        = 34
		titleH         = 44
	)
	var sizes []int
	var floor []*result
	series := map[int][]*result{}
	var names []string
	for _, r := range rep.Results {
		if r.hist == nil || r.hist.Count() == 0 {
			continue
		}
		if !slices.Contains(names, r.Transport) {
			names = append(names, r.Transport)
		}
		if r.Kind == "floor" {
			floor = append(floor, r)
			continue
		}
		if !slices.Contains(sizes, r.Size) {
			sizes = append(sizes, r.Size)
		}
		series[r.Size] = append(series[r.Size], r)
	}
	if len(sizes) == 0 && len(floor) > 0 {
		sizes = []int{floor[0].Size}
		series[floor[0].Size] = floor
		floor = nil
	}
	cols := 1
	if len(sizes) > 1 {
		cols = 2
	}
	rows := max(1, (len(sizes)+cols-1)/cols)
	width := cols * panelW
	height := titleH + legendH + rows*panelH

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="16" font-weight="bold" text-anchor="middle">%s</text>`+"\n",
		width/2, html.EscapeString("One-way latency percentiles between two processes (round trip / 2)"))
	fmt.Fprintf(&b, `<text x="%d" y="38" font-size="11" fill="#555" text-anchor="middle">%s</text>`+"\n",
		width/2, html.EscapeString(fmt.Sprintf("%s, %s %s/%s", rep.Env.CPU, rep.Env.GoVersion, rep.Env.GOOS, rep.Env.GOARCH)))

	// Legend: every transport with its colour, in the order measured.
	x := 16.0
	for _, name := range names {
		col, dash := transportStyle(name, names)
		y := float64(titleH) + 16
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2.5"%s/>`+"\n", x, y, x+26, y, col, dash)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" dominant-baseline="middle">%s</text>`+"\n", x+32, y, html.EscapeString(name))
		x += 32 + float64(7*len(name)) + 26
	}

	for i, size := range sizes {
		ox := float64((i % cols) * panelW)
		oy := float64(titleH + legendH + (i/cols)*panelH)
		rs := append(slices.Clone(series[size]), floor...)
		drawPanel(&b, ox, oy, panelW, panelH, marginL, marginR, marginT, marginB, sizeString(size)+" messages", rs, names)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func drawPanel(b *bytes.Buffer, ox, oy float64, w, h, ml, mr, mt, mb int, title string, rs []*result, names []string) {
	px0, px1 := ox+float64(ml), ox+float64(w-mr)
	py0, py1 := oy+float64(mt), oy+float64(h-mb) // top, bottom
	// x range: 0 nines up to the last percentile the data resolves.
	maxNines := 2.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		n := float64(r.hist.Count())
		maxNines = max(maxNines, math.Ceil(math.Log10(n)-1e-9))
		lo = min(lo, float64(max(1, r.hist.Min())))
		hi = max(hi, float64(r.hist.Max()))
	}
	ylo := math.Floor(math.Log10(lo))
	yhi := math.Ceil(math.Log10(hi))
	if yhi <= ylo {
		yhi = ylo + 1
	}
	sx := func(nines float64) float64 { return px0 + (px1-px0)*nines/maxNines }
	sy := func(ns float64) float64 {
		return py1 - (py1-py0)*(math.Log10(max(ns, 1))-ylo)/(yhi-ylo)
	}

	fmt.Fprintf(b, `<g>`+"\n")
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="13" font-weight="bold" text-anchor="middle">%s</text>`+"\n", (px0+px1)/2, oy+mtTitle(mt), html.EscapeString(title))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fbfbfb" stroke="#999"/>`+"\n", px0, py0, px1-px0, py1-py0)
	// Grid and tick labels: x at each nine, y at 1-2-5 steps per decade.
	for k := 0; k <= int(maxNines); k++ {
		xx := sx(float64(k))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", xx, py0, xx, py1)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#333">%s</text>`+"\n", xx, py1+16, ninesLabel(k))
	}
	for d := ylo; d <= yhi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if math.Log10(v) > yhi+1e-9 {
				break
			}
			yy := sy(v)
			stroke := "#eee"
			if m == 1 {
				stroke = "#ccc"
			}
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", px0, yy, px1, yy, stroke)
			if m == 1 { // label decades only: 2 and 5 are grid lines
				fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle" fill="#333">%s</text>`+"\n", px0-6, yy, nsLabel(v))
			}
		}
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">percentile</text>`+"\n", (px0+px1)/2, py1+36)
	fmt.Fprintf(b, `<text transform="translate(%.1f,%.1f) rotate(-90)" text-anchor="middle">one-way latency</text>`+"\n", ox+16, (py0+py1)/2)

	// Curves: the value at evenly spaced points of the nines scale, up to
	// the last resolvable percentile, then the maximum.
	for _, r := range rs {
		col, dash := transportStyle(r.Transport, names)
		n := float64(r.hist.Count())
		last := math.Log10(n)
		var pts []string
		for x := 0.0; x < last; x += 0.02 {
			q := 100 * (1 - math.Pow(10, -x))
			v := float64(r.hist.Percentile(q))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(x), sy(v)))
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(last), sy(float64(r.hist.Max()))))
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round"%s points="%s"><title>%s</title></polyline>`+"\n",
			col, dash, strings.Join(pts, " "), html.EscapeString(fmt.Sprintf("%s %s", r.Transport, sizeString(r.Size))))
	}
	fmt.Fprintf(b, `</g>`+"\n")
}

func mtTitle(mt int) float64 { return float64(mt) - 12 }

func ninesLabel(k int) string {
	switch k {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", k-2) + "%"
}

func nsLabel(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%gs", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%gms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gµs", v/1e3)
	}
	return fmt.Sprintf("%gns", v)
}

// transportStyle gives each transport a fixed colour: a kernel transport's
// same-CPU variant shares its colour, dashed; the floor is dotted grey.
func transportStyle(name string, names []string) (color, dash string) {
	fixed := map[string]string{
		"shqueue-spin":     "#1f77b4",
		"shqueue-adaptive": "#2ca02c",
		"unix":             "#d62728",
		"pipe":             "#ff7f0e",
		"sysvmsg":          "#9467bd",
		"raw":              "#444444",
	}
	base := baseName(name)
	if c, ok := fixed[base]; ok {
		color = c
	} else {
		others := []string{"#8c564b", "#e377c2", "#17becf", "#bcbd22"}
		color = others[slices.Index(names, name)%len(others)]
	}
	switch {
	case name == "raw":
		dash = ` stroke-dasharray="2,3"`
	case base != name:
		dash = ` stroke-dasharray="7,4"`
	}
	return color, dash
}
