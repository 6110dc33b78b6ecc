package booking

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rushgate/rushgate/booking/bookingdb"
)

// A table made of blocks and one made of the same seats read row by row
// answer every seat number alike: price, size, highest number and the walk.
func TestSeatTableOfBlocksEqualsTableOfItsSeats(t *testing.T) {
	for _, blocks := range [][]SeatBlock{
		{{From: 1, To: 5000, Price: 10000}},
		// Out of order, a gap (11..19), two neighbours of one price
		// (which the rows merge into one run) and a lone seat.
		{{From: 20, To: 29, Price: 5000}, {From: 1, To: 10, Price: 9000}, {From: 30, To: 30, Price: 5000}, {From: 40, To: 40, Price: 1}},
		{},
	} {
		t.Run(fmt.Sprint(blocks), func(t *testing.T) {
			want := map[int]int64{}
			var rows []bookingdb.Seat
			sorted := slices.Clone(blocks)
			slices.SortFunc(sorted, func(a, b SeatBlock) int { return a.From - b.From })
			for _, b := range sorted {
				for n := b.From; n <= b.To; n++ {
					want[n] = b.Price
					rows = append(rows, bookingdb.Seat{Number: n, Price: b.Price})
				}
			}
			// What bookingdb's SeatSummaries sums from the rows.
			var sum bookingdb.SeatSummary
			for _, r := range rows {
				if sum.Seats == 0 {
					sum.First = r.Number
				}
				sum.Seats++
				sum.Last = r.Number
				sum.PriceSum += r.Price
			}
			for name, table := range map[string]*seatTable{"blocks": tableOfBlocks(blocks), "rows": tableOfSeats(rows)} {
				if got := table.summary(); got != sum {
					t.Errorf("%s: summary %+v, want the rows' %+v", name, got, sum)
				}
				if table.size() != len(want) {
					t.Errorf("%s: size %d, want %d", name, table.size(), len(want))
				}
				top := 0
				if len(rows) > 0 {
					top = rows[len(rows)-1].Number
				}
				if table.max() != top {
					t.Errorf("%s: max %d, want %d", name, table.max(), top)
				}
				for n := -1; n <= top+2; n++ {
					p, ok := table.price(n)
					if wp, wok := want[n]; p != wp || ok != wok {
						t.Fatalf("%s: price(%d) = %d, %v; want %d, %v", name, n, p, ok, wp, wok)
					}
				}
				var walked []int
				for n := range table.numbers() {
					walked = append(walked, n)
				}
				if len(walked) != len(rows) || !slices.IsSorted(walked) {
					t.Fatalf("%s: walk gave %d numbers (sorted: %v), want %d", name, len(walked), slices.IsSorted(walked), len(rows))
				}
				for _, n := range walked {
					if _, ok := want[n]; !ok {
						t.Fatalf("%s: walk gave seat %d, which does not exist", name, n)
					}
				}
			}
		})
	}
	// Rows merge into runs: 5,000 seats of one price are one run.
	var rows []bookingdb.Seat
	for n := 1; n <= 5000; n++ {
		rows = append(rows, bookingdb.Seat{Number: n, Price: 7})
	}
	if runs := len(tableOfSeats(rows).runs); runs != 1 {
		t.Errorf("5,000 consecutive seats of one price make %d runs, want 1", runs)
	}
}

// A walk stops when its consumer does.
func TestSeatTableWalkStopsEarly(t *testing.T) {
	table := tableOfBlocks([]SeatBlock{{From: 1, To: 3, Price: 1}, {From: 5, To: 9, Price: 2}})
	var got []int
	for n := range table.numbers() {
		got = append(got, n)
		if len(got) == 4 {
			break
		}
	}
	if fmt.Sprint(got) != "[1 2 3 5]" {
		t.Fatalf("first four seats %v, want [1 2 3 5]", got)
	}
}
