package booking

import (
	"iter"
	"sort"

	"github.com/rushgate/rushgate/booking/bookingdb"
)

// seatTable holds the seats of a date as runs of consecutive numbers of one
// price, ascending: a hold finds a seat's price by binary search over the
// runs, a listing walks them. A concert's seat blocks are such runs already,
// so a stadium of a few price zones takes a few dozen bytes, not a slot per
// seat.
type seatTable struct {
	runs  []SeatBlock // ascending, disjoint
	count int
}

// tableOfBlocks is the table of a date with the given seat blocks
// (validated: disjoint, From <= To).
func tableOfBlocks(blocks []SeatBlock) *seatTable {
	t := &seatTable{runs: make([]SeatBlock, len(blocks))}
	copy(t.runs, blocks)
	sort.Slice(t.runs, func(i, j int) bool { return t.runs[i].From < t.runs[j].From })
	for _, r := range t.runs {
		t.count += r.Seats()
	}
	return t
}

// tableOfSeats is the table of the given seats, ascending by number.
func tableOfSeats(seats []bookingdb.Seat) *seatTable {
	t := &seatTable{count: len(seats)}
	for _, st := range seats {
		if n := len(t.runs); n > 0 && t.runs[n-1].To == st.Number-1 && t.runs[n-1].Price == st.Price {
			t.runs[n-1].To = st.Number
			continue
		}
		t.runs = append(t.runs, SeatBlock{From: st.Number, To: st.Number, Price: st.Price})
	}
	return t
}

// price returns the price of a seat, and false when the date has no such
// seat.
func (t *seatTable) price(seat int) (int64, bool) {
	i := sort.Search(len(t.runs), func(i int) bool { return t.runs[i].To >= seat })
	if i == len(t.runs) || seat < t.runs[i].From {
		return 0, false
	}
	return t.runs[i].Price, true
}

// summary is what the table's seats add up to, as bookingdb sums a date's
// rows; a table without seats sums to the zero summary, as a date without
// rows does.
func (t *seatTable) summary() bookingdb.SeatSummary {
	if len(t.runs) == 0 {
		return bookingdb.SeatSummary{}
	}
	s := bookingdb.SeatSummary{Seats: t.count, First: t.runs[0].From, Last: t.max()}
	for _, r := range t.runs {
		s.PriceSum += r.Price * int64(r.Seats())
	}
	return s
}

// size is the number of seats.
func (t *seatTable) size() int { return t.count }

// max is the highest seat number (0 without seats).
func (t *seatTable) max() int {
	if len(t.runs) == 0 {
		return 0
	}
	return t.runs[len(t.runs)-1].To
}

// numbers yields every seat number, ascending.
func (t *seatTable) numbers() iter.Seq[int] {
	return func(yield func(int) bool) {
		for _, r := range t.runs {
			for n := r.From; n <= r.To; n++ {
				if !yield(n) {
					return
				}
			}
		}
	}
}
