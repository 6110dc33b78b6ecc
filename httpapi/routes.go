package httpapi

import "github.com/gin-gonic/gin"

// routes lists every route of the contract.
func (s *server) routes(e *gin.Engine) {
	// Load balancers probe with GET or HEAD.
	e.GET("/healthz", s.handleHealthz)
	e.HEAD("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.HEAD("/readyz", s.handleReadyz)
	e.GET("/metrics", s.handleMetrics())

	// The poll, the hot path of a rush, checks its own token and sets no
	// request deadline: for a waiting token it makes no I/O at all, and its
	// one possible call, a Redis read, is bounded by the Redis client.
	e.GET("/api/queue/position", s.handlePosition)
	// Entering and holding, the other floods of a rush, likewise (see
	// handleEnter). A hold checks its own token, and the admission inside
	// its own Redis script: one round trip.
	e.POST("/api/tokens", s.limitEnter, s.handleEnter)
	e.POST("/api/reservation", s.handleHold)

	api := e.Group("/api", s.deadline)

	active := api.Group("", s.requireToken, s.requireActive)
	active.GET("/reservationData/available", s.handleAvailableDates)
	active.GET("/reservationSeat/available", s.handleAvailableSeats)

	// The public catalogue, from memory; fans' pages read it.
	api.GET("/concerts", s.handlePublicConcerts)
	api.GET("/concerts/:id", s.handlePublicConcert)
	// Anyone may check a scheduled sale's draw.
	api.GET("/concerts/:id/draw", s.handleDraw)

	api.GET("/pay", s.handleBalance)
	api.POST("/chargePay", s.handleCharge)
	// Payment checks the token itself: an idempotent retry must be answered
	// even after the payment released the token.
	api.POST("/payment", s.requireToken, s.handlePayment)

	// The fan's pages are files held in memory: no deadline, no I/O.
	if s.Pages != nil {
		e.GET("/", s.handleHome)
		e.GET("/wait/:concert_id", s.handleWaitPage)
		e.GET("/fan/*file", s.handlePageAsset)
	}

	admin := e.Group("/admin", s.deadline, s.requireAdmin)
	admin.GET("/queue", s.handleAdminQueue)
	admin.PATCH("/queue", s.handleAdminPatchQueue)
	admin.GET("/queue/stats", s.handleStats)
	admin.GET("/queue/projection", s.handleProjection)
	admin.GET("/audit", s.handleAudit)
	admin.GET("/concerts", s.handleListConcerts)
	admin.GET("/concerts/:id", s.handleGetConcert)
	admin.PATCH("/concerts/:id", s.handlePatchConcert)
	// The console's files need no key: it asks for one and sends it with
	// every API call.
	if s.Console != nil {
		serve := gin.WrapH(s.Console.Handler("/admin/", nil))
		e.GET("/admin/", serve)
		e.HEAD("/admin/", serve)
		for _, name := range s.Console.Names() {
			e.GET("/admin/"+name, serve)
			e.HEAD("/admin/"+name, serve)
		}
	}
	// Creating a concert writes up to a million seats: it gets a longer
	// deadline than other requests.
	e.POST("/admin/concerts", s.longDeadline, s.requireAdmin, s.handleCreateConcert)
}
