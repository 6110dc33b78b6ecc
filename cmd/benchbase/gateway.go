package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/gateway"
	"github.com/rushgate/rushgate/redisconn"
	"github.com/rushgate/rushgate/schema"
)

// gatewayHandler assembles a whole gateway replica configured from the
// environment as `rushgate serve` is (ADDR aside), so that -gateway can
// serve it next to an opt-in pprof listener and profile it under the same
// load as the baselines. The returned func stops it.
func gatewayHandler(ctx context.Context) (http.Handler, func(), error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	db, err := schema.Open(ctx, cfg.DatabaseURL, cfg.DBTimeout)
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	rdb, err := redisconn.Open(ctx, redisconn.FromConfig(cfg))
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	gw, err := gateway.New(cfg, rdb, db, log)
	if err == nil {
		err = gw.Start(ctx)
	}
	if err != nil {
		rdb.Close()
		db.Close()
		return nil, nil, err
	}
	return gw.Handler, func() {
		gw.StopAdmitting()
		rdb.Close()
		db.Close()
	}, nil
}
