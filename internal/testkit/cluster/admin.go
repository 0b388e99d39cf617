package cluster

import (
	"io"
	"net/http"
	"time"
)

// Admin sends method to the instance's admin endpoint and returns the
// status and body.
func (i *Instance) Admin(method, pathQuery string) (int, string) {
	i.tb.Helper()
	req, err := http.NewRequest(method, i.AdminURL(pathQuery), nil)
	if err != nil {
		i.tb.Fatal(err)
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: DialLoopback}}
	resp, err := c.Do(req)
	if err != nil {
		i.tb.Fatalf("%s %s on %s: %v", method, pathQuery, i.Name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
