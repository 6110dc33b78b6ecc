package draw_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/rushgate/rushgate/draw"
)

// seedOf is the i-th seed of the uniformity test: fixed, so that the test
// gives the same answer every run, yet unrelated to the user ids.
func seedOf(i int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	s := sha256.Sum256(append([]byte("uniformity seed "), b[:]...))
	return s[:]
}

// TestDrawIsUniform runs 20,000 draws of 10 entrants and counts where each
// entrant lands. Under a uniform draw every (entrant, place) cell expects
// 2,000; the chi-square statistic over the 10×10 table has (10-1)² = 81
// degrees of freedom, and a p-value above 0.01 means the draw shows no bias
// that this test can see.
func TestDrawIsUniform(t *testing.T) {
	const draws, entrants = 20000, 10
	users := make([]string, entrants)
	for i := range users {
		users[i] = fmt.Sprintf("fan%d@example.com", i)
	}
	var counts [entrants][entrants]float64
	index := map[string]int{}
	for i, u := range users {
		index[u] = i
	}
	for d := 0; d < draws; d++ {
		for place, e := range draw.Order(seedOf(d), users) {
			counts[index[e.UserID]][place]++
		}
	}
	expected := float64(draws) / entrants
	var chi2 float64
	for _, row := range counts {
		for _, c := range row {
			chi2 += (c - expected) * (c - expected) / expected
		}
	}
	dof := float64((entrants - 1) * (entrants - 1))
	p := upperGammaQ(dof/2, chi2/2)
	t.Logf("chi-square = %.2f, %v degrees of freedom, p = %.4f (%d draws of %d entrants)", chi2, dof, p, draws, entrants)
	if p <= 0.01 {
		t.Errorf("draw order is not uniform: chi-square %.2f, p = %.4f", chi2, p)
	}
}

// upperGammaQ is the regularised upper incomplete gamma function Q(a, x),
// the chi-square survival function at 2x with 2a degrees of freedom
// (series for x < a+1, Lentz's continued fraction otherwise).
func upperGammaQ(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	if x < a+1 {
		sum, term := 1/a, 1/a
		for n := 1; n < 1000; n++ {
			term *= x / (a + float64(n))
			sum += term
			if term < sum*1e-15 {
				break
			}
		}
		return 1 - sum*math.Exp(-x+a*math.Log(x)-lg)
	}
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return math.Exp(-x+a*math.Log(x)-lg) * h
}

func TestUpperGammaQMatchesKnownChiSquareValues(t *testing.T) {
	for _, c := range []struct{ chi2, dof, p float64 }{
		{21.666, 9, 0.01},    // the 1% critical value of 9 degrees
		{113.51, 81, 0.01},   // and of 81
		{3.841, 1, 0.05},     // the textbook one
		{0.0001, 81, 1.0000}, // nothing observed
	} {
		if got := upperGammaQ(c.dof/2, c.chi2/2); math.Abs(got-c.p) > 0.001 {
			t.Errorf("Q(chi2=%v, dof=%v) = %.4f, want %.4f", c.chi2, c.dof, got, c.p)
		}
	}
}

func TestVerifyAcceptsAnHonestDrawAndRejectsEveryTampering(t *testing.T) {
	seed := seedOf(1)
	users := []string{"a", "b", "c", "d", "e"}
	var keys []string
	for _, e := range draw.Order(seed, users) {
		keys = append(keys, e.Key)
	}
	honest := draw.Published{Commitment: draw.Commitment(seed), Seed: fmt.Sprintf("%x", seed), KeysDigest: draw.Digest(keys), Entrants: 5, Keys: keys}
	if _, err := draw.Verify(honest); err != nil {
		t.Fatalf("honest draw: %v", err)
	}
	if got, want := draw.Place(keys, draw.Key(seed, "c")), 0; got == want {
		t.Errorf("c's key not found among the keys")
	}
	swapped := append([]string(nil), keys...)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	otherSeed := seedOf(2)
	for name, c := range map[string]struct {
		p    draw.Published
		want error
	}{
		"OtherSeed":    {draw.Published{Commitment: honest.Commitment, Seed: fmt.Sprintf("%x", otherSeed), KeysDigest: honest.KeysDigest, Entrants: 5, Keys: keys}, draw.ErrCommitment},
		"Reordered":    {draw.Published{Commitment: honest.Commitment, Seed: honest.Seed, KeysDigest: draw.Digest(swapped), Entrants: 5, Keys: swapped}, draw.ErrOrder},
		"KeyDropped":   {draw.Published{Commitment: honest.Commitment, Seed: honest.Seed, KeysDigest: honest.KeysDigest, Entrants: 5, Keys: keys[1:]}, draw.ErrCount},
		"DigestWrong":  {draw.Published{Commitment: honest.Commitment, Seed: honest.Seed, KeysDigest: draw.Digest(keys[1:]), Entrants: 5, Keys: keys}, draw.ErrDigest},
		"KeyMalformed": {draw.Published{Commitment: honest.Commitment, Seed: honest.Seed, KeysDigest: honest.KeysDigest, Entrants: 1, Keys: []string{"zz"}}, draw.ErrBadKey},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := draw.Verify(c.p); !errors.Is(err, c.want) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestKeyIsHMACOfTheUserUnderTheSeed(t *testing.T) {
	// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
	got := draw.Key([]byte("Jefe"), "what do ya want for nothing?")
	if want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("Key = %s, want %s", got, want)
	}
}
