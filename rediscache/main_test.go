package rediscache_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// server is the package's redis-server, nil when none could be started
// outside CI.
var server *redisServer

var skipReason string

func TestMain(m *testing.M) {
	s, err := startRedis()
	switch {
	case err == nil:
		server = s
	case errors.Is(err, errNoRedis) && os.Getenv("CI") != "true":
		skipReason = err.Error()
	default:
		// Under CI a missing server is a failure, never a skip.
		fmt.Fprintln(os.Stderr, "rediscache tests need a real Redis:", err)
		os.Exit(1)
	}
	code := m.Run()
	if server != nil {
		server.stop()
	}
	os.Exit(code)
}

// newRedis returns a client of the test server on a fresh, empty
// database, closed when the test ends.
func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	if server == nil {
		t.Skip(skipReason)
	}
	rdb := redis.NewClient(&redis.Options{Addr: server.addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatalf("flushing the test database: %v", err)
	}
	return rdb
}
