// Command demo-service is a tiny HTTP service whose releases can be good or
// bad, so that tests and the demo see a real workload get sicker and healthier.
//
// The release is baked in at build time (-X main.release=v1 -X main.failing=true):
// a failing release passes its probes but answers 500 on "/". It counts every
// answer in http_requests_total{code} at /metrics, and, with LOAD_RPS set, sends
// that many real requests per second to itself so that a ratio exists without
// outside traffic.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

var (
	release = "dev"
	failing = "false"
)

type counters struct {
	mu     sync.Mutex
	byCode map[int]uint64
}

func (c *counters) add(code int) {
	c.mu.Lock()
	c.byCode[code]++
	c.mu.Unlock()
}

func (c *counters) write(w http.ResponseWriter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP http_requests_total Requests answered on /, by status code.")
	fmt.Fprintln(w, "# TYPE http_requests_total counter")
	for _, code := range []int{200, 500} {
		fmt.Fprintf(w, "http_requests_total{code=%q,release=%q} %d\n", strconv.Itoa(code), release, c.byCode[code])
	}
	fmt.Fprintln(w, "# HELP demo_release_info The release this process runs.")
	fmt.Fprintln(w, "# TYPE demo_release_info gauge")
	fmt.Fprintf(w, "demo_release_info{release=%q,failing=%q} 1\n", release, failing)
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	answered := &counters{byCode: map[int]uint64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if failing == "true" {
			code = http.StatusInternalServerError
		}
		answered.add(code)
		w.WriteHeader(code)
		fmt.Fprintf(w, "release %s\n", release)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { answered.write(w) })

	if rps, err := strconv.Atoi(os.Getenv("LOAD_RPS")); err == nil && rps > 0 {
		go selfLoad("http://127.0.0.1:"+port+"/", rps)
	}
	log.Printf("demo-service release %s (failing=%s) listening on :%s", release, failing, port)
	log.Fatal(http.ListenAndServe(":"+port, mux))
}

func selfLoad(url string, rps int) {
	client := &http.Client{Timeout: 2 * time.Second}
	for range time.Tick(time.Second / time.Duration(rps)) {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
		}
	}
}
