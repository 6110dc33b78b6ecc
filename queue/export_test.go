package queue

// WithEnterArrivals returns c with f told each user as their token issue
// joins its concert's batch queue, in arrival order.
func WithEnterArrivals(c Config, f func(userID string)) Config {
	c.enterQueued = f
	return c
}
