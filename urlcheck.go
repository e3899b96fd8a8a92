package herokupartner

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkEndpoint validates an address the SDK will send credentials to (the
// API's base URL, the token endpoint): https, or plain http on a loopback
// host only, since a token or client secret would travel in clear; no user
// info, query or fragment. Its errors name the setting, never the address,
// which may carry a password.
func checkEndpoint(setting, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("herokupartner: %s: not a URL", setting)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("herokupartner: %s: want scheme://host[/path], without credentials, query or fragment", setting)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("herokupartner: %s: plain http is allowed only on a loopback host, since credentials would travel in clear", setting)
		}
	default:
		return nil, fmt.Errorf("herokupartner: %s: scheme must be https", setting)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
