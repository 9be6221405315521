// Package stats holds the host tools' summary statistics.
package stats

import "slices"

// Median is the middle value of v; of an even count, the upper of the two middle ones (a value that
// was measured, not an average of two); 0 for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}
