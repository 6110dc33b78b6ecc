package main

import (
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/keyspace"
)

func keyspaceFor(cfg config.Config) keyspace.Space { return keyspace.New(cfg.KeyPrefix) }
