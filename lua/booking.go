package lua

// Booking scripts.
var (
	// HoldBatch takes seats for users and records the holds: many holds of
	// one concert in one run, or one alone, in order (hold_batch.lua). It is
	// the one hold script, batched or not.
	HoldBatch = load("hold_batch.lua")
	// Claim marks a hold as being paid (claim.lua).
	Claim = load("claim.lua")
	// Unclaim undoes a claim after a failed payment (unclaim.lua).
	Unclaim = load("unclaim.lua")
	// Sell records a paid hold: seat sold, lock and slot freed (sell.lua).
	Sell = load("sell.lua")
	// LoadSold adds seats from Postgres to a date's sold cache (load_sold.lua).
	LoadSold = load("load_sold.lua")
	// CountSeats counts the sold and held seats of a concert's dates, and
	// keeps the totals a moment for every replica (count_seats.lua).
	CountSeats = load("count_seats.lua")
)
