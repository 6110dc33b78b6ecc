package httpapi

import (
	"strings"

	"github.com/gin-gonic/gin"
)

// handleHome is GET /: the concerts on sale.
func (s *server) handleHome(c *gin.Context) { s.Pages.Home(c.Writer, c.Request) }

// handleWaitPage is GET /wait/{concert_id}: the fan's waiting page.
func (s *server) handleWaitPage(c *gin.Context) {
	if !s.Pages.Wait(c.Writer, c.Request, c.Param("concert_id")) {
		s.writeError(c, errNotFound)
	}
}

// handlePageAsset is GET /fan/{file}: the pages' scripts and styles.
func (s *server) handlePageAsset(c *gin.Context) {
	if !s.Pages.Asset(c.Writer, c.Request, strings.TrimPrefix(c.Param("file"), "/")) {
		s.writeError(c, errNotFound)
	}
}
