package protocol

import (
	"strconv"
	"strings"
)

// Format makes one protocol line (Tag, kind, key=value pairs, newline): the kernel's writer
// (kernel/ktest), beside ParseLine, the runner's reader.
func Format(kind string, kv ...string) string {
	var b strings.Builder
	b.WriteString(Tag)
	b.WriteString(kind)
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteByte(' ')
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(Value(kv[i+1]))
	}
	b.WriteByte('\n')
	return b.String()
}

// Value renders a value bare when it is a plain word, quoted otherwise; empty is "-".
func Value(v string) string {
	if v == "" {
		return "-"
	}
	for _, r := range v {
		if r <= ' ' || r == '"' || r == '=' || r > '~' {
			return strconv.Quote(v)
		}
	}
	return v
}

// Number renders a metric: integers without exponent, others with up to 3 decimals.
func Number(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}
