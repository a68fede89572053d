// amx-peer: the request path of prometheus-am-executor, for bench/run when the Go module proxy
// does not serve github.com/imgix/prometheus-am-executor.
//
// What prometheus-am-executor does per webhook, and what this program does the same way:
// net/http server, read the whole body, json.Unmarshal it into Alertmanager's template.Data shape
// (times parsed as time.Time), turn it into AMX_* environment variables, fork/exec the configured
// command with that environment, wait for it to exit, answer 200 (500 if it failed). It leaves
// out what costs nothing per request in the benchmark (its Prometheus metrics and its
// per-fingerprint process bookkeeping). Standard library only, so it builds without any module.
//
// Usage: amx-peer [-l ADDR] command [args...]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"
)

type kv map[string]string

type alert struct {
	Status       string    `json:"status"`
	Labels       kv        `json:"labels"`
	Annotations  kv        `json:"annotations"`
	StartsAt     time.Time `json:"startsAt"`
	EndsAt       time.Time `json:"endsAt"`
	GeneratorURL string    `json:"generatorURL"`
	Fingerprint  string    `json:"fingerprint"`
}

type payload struct {
	Receiver          string  `json:"receiver"`
	Status            string  `json:"status"`
	Alerts            []alert `json:"alerts"`
	GroupLabels       kv      `json:"groupLabels"`
	CommonLabels      kv      `json:"commonLabels"`
	CommonAnnotations kv      `json:"commonAnnotations"`
	ExternalURL       string  `json:"externalURL"`
}

func unixStr(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

func toEnv(p *payload) []string {
	env := []string{
		"AMX_RECEIVER=" + p.Receiver,
		"AMX_STATUS=" + p.Status,
		"AMX_EXTERNAL_URL=" + p.ExternalURL,
		"AMX_ALERT_LEN=" + strconv.Itoa(len(p.Alerts)),
	}
	for prefix, m := range map[string]kv{"AMX_LABEL": p.CommonLabels,
		"AMX_GLABEL": p.GroupLabels, "AMX_ANNOTATION": p.CommonAnnotations} {
		for k, v := range m {
			env = append(env, prefix+"_"+k+"="+v)
		}
	}
	for i, a := range p.Alerts {
		key := "AMX_ALERT_" + strconv.Itoa(i+1)
		env = append(env, key+"_STATUS="+a.Status, key+"_START="+unixStr(a.StartsAt),
			key+"_END="+unixStr(a.EndsAt), key+"_URL="+a.GeneratorURL,
			key+"_FINGERPRINT="+a.Fingerprint)
		for prefix, m := range map[string]kv{"LABEL": a.Labels, "ANNOTATION": a.Annotations} {
			for k, v := range m {
				env = append(env, key+"_"+prefix+"_"+k+"="+v)
			}
		}
	}
	return env
}

func main() {
	listen := flag.String("l", ":8080", "address to listen on")
	flag.Parse()
	command := flag.Args()
	if len(command) == 0 {
		fmt.Fprintln(os.Stderr, "usage: amx-peer [-l ADDR] command [args...]")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var p payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if p.Status != "firing" {
			return
		}
		cmd := exec.Command(command[0], command[1:]...)
		cmd.Env = append(os.Environ(), toEnv(&p)...)
		if err := cmd.Run(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	log.Println("listening on", *listen, "running", command)
	log.Fatal(http.ListenAndServe(*listen, mux))
}
