package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestPerScheme(t *testing.T) {
	var r report
	if err := json.Unmarshal([]byte(`{"outcome":"pass","tests":[
		{"scheme":"refcount","outcome":"pass","metrics":{"shoot_ipis":2,"switch_cycles_median":10}},
		{"scheme":"refcount","outcome":"pass","metrics":{"shoot_ipis":3,"switch_cycles_median":30}},
		{"scheme":"refcount","outcome":"pass","metrics":{"shoot_ipis":5,"switch_cycles_median":20}},
		{"scheme":"refcount","outcome":"fail","metrics":{"shoot_ipis":100}},
		{"scheme":"refcount","inject":"x","outcome":"fail","metrics":{"shoot_ipis":100}},
		{"scheme":"","outcome":"pass","metrics":{"shoot_ipis":100}}]}`), &r); err != nil {
		t.Fatal(err)
	}
	got := perScheme(&r)
	if len(got) != 1 || got["refcount"]["shoot_ipis"] != 10 || got["refcount"]["switch_cycles_median"] != 20 {
		t.Errorf("perScheme = %v, want refcount: shoot_ipis 10 (summed over passing tests), switch cycles 20 (median)", got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"-runs", "0"}, {"-cpus", "-1"}, {"-nope"}} {
		if rc := run(args, &out, &errb); rc != 2 {
			t.Errorf("%v: exit %d, want 2", args, rc)
		}
	}
}
