// Package lua embeds rushgate's Redis scripts.
//
// Each script lives in its own .lua file, opens with a comment giving its
// KEYS, ARGV and return value, takes "now" from Go (so tests drive time), and
// returns integer codes or arrays, never nil (go-redis would turn it into
// redis.Nil). Each *redis.Script is built once; Run sends EVALSHA and falls back
// to EVAL when the server does not know the script yet.
package lua

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed *.lua
var files embed.FS

func load(name string) *redis.Script {
	src, err := files.ReadFile(name)
	if err != nil {
		panic("lua: missing embedded script " + name)
	}
	return redis.NewScript(string(src))
}

// Queue scripts.
var (
	// Enter puts a user in line or returns their live token (enter.lua).
	Enter = load("enter.lua")
	// Admit runs one admission step of a concert (admit.lua).
	Admit = load("admit.lua")
	// Release frees the active slot of a token (release.lua).
	Release = load("release.lua")
	// Settings reads and changes the admission settings of a concert (settings.lua).
	Settings = load("settings.lua")
	// Schedule sets, moves or clears a concert's scheduled open (schedule.lua).
	Schedule = load("schedule.lua")
	// Place puts one batch of the pre-queue in line at the open (place.lua).
	Place = load("place.lua")
	// Heartbeat records a replica's batch of polls (heartbeat.lua).
	Heartbeat = load("heartbeat.lua")
)
