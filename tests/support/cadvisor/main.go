// Command cadvisor runs cAdvisor's own collection code (container manager, Docker and raw cgroup
// handlers, Prometheus collector) behind the command-line flags of the upstream cAdvisor binary
// that matter for trip-msa's tests.
//
// Why a wrapper: upstream's main package lives in the separate module github.com/google/cadvisor/cmd,
// which the Go module proxy does not serve. Every metric, label and timestamp still comes from the
// library module github.com/google/cadvisor at the pinned release (see go.mod); only start-up is ours:
// no web UI, no REST API, no storage drivers. Flags kept with upstream's names and defaults:
// -listen_ip, -port, -prometheus_endpoint, -store_container_labels, -whitelisted_container_labels,
// -disable_metrics, -enable_metrics, -storage_duration, plus every flag the library registers itself
// (-docker_only, -housekeeping_interval, -docker, -max_housekeeping_interval, -enable_load_reader,
// ...). Run-queue wait (rules/README.md): -enable_load_reader and `sched` left out of -disable_metrics.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/cadvisor/cache/memory"
	"github.com/google/cadvisor/container"
	v2 "github.com/google/cadvisor/info/v2"
	"github.com/google/cadvisor/manager"
	"github.com/google/cadvisor/metrics"
	"github.com/google/cadvisor/utils/sysfs"
	"github.com/google/cadvisor/version"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	// Container provider for Docker (the raw cgroup provider is registered by the manager itself).
	_ "github.com/google/cadvisor/container/docker/install"
)

var (
	listenIP        = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
	port            = flag.Int("port", 8080, "port to listen")
	promEndpoint    = flag.String("prometheus_endpoint", "/metrics", "Endpoint to expose Prometheus metrics on")
	storeLabels     = flag.Bool("store_container_labels", true, "convert container labels and environment variables into labels on prometheus metrics for each container; if false, only name, image, id and the whitelisted labels are exported")
	whitelistLabels = flag.String("whitelisted_container_labels", "", "comma separated list of container labels exported when -store_container_labels=false")
	storageDuration = flag.Duration("storage_duration", 2*time.Minute, "How long to keep data stored")
	rawWhitelist    = flag.String("raw_cgroup_prefix_whitelist", "", "comma-separated cgroup path prefixes collected even with -docker_only")
	envWhitelist    = flag.String("env_metadata_whitelist", "", "comma-separated environment variable prefixes collected for containers")
	printVersion    = flag.Bool("version", false, "print cAdvisor version and exit")

	// Upstream's default: these are expensive or irrelevant to most deployments.
	ignoreMetrics = container.MetricSet{
		container.MemoryNumaMetrics:              struct{}{},
		container.NetworkTcpUsageMetrics:         struct{}{},
		container.NetworkUdpUsageMetrics:         struct{}{},
		container.NetworkAdvancedTcpUsageMetrics: struct{}{},
		container.ProcessSchedulerMetrics:        struct{}{},
		container.ProcessMetrics:                 struct{}{},
		container.HugetlbUsageMetrics:            struct{}{},
		container.ReferencedMemoryMetrics:        struct{}{},
		container.CPUTopologyMetrics:             struct{}{},
		container.ResctrlMetrics:                 struct{}{},
		container.CPUSetMetrics:                  struct{}{},
	}
	enableMetrics = container.MetricSet{}
)

func init() {
	all := container.AllMetrics.String()
	flag.Var(&ignoreMetrics, "disable_metrics", "comma-separated list of `metrics` to be disabled; options are "+all)
	flag.Var(&enableMetrics, "enable_metrics", "comma-separated list of `metrics` to be enabled; overrides -disable_metrics; options are "+all)
}

func labelFunc() metrics.ContainerLabelsFunc {
	if *storeLabels {
		return metrics.DefaultContainerLabels
	}
	keys := strings.Split(*whitelistLabels, ",")
	for i := range keys {
		keys[i] = strings.TrimSpace(keys[i])
	}
	return metrics.BaseContainerLabels(keys)
}

func main() {
	klog.InitFlags(nil)
	_ = flag.Set("v", "1")
	flag.Parse()
	defer klog.Flush()
	if *printVersion {
		fmt.Printf("cAdvisor version %s (library module, trip-msa wrapper)\n", version.Info["version"])
		return
	}

	included := container.AllMetrics.Difference(ignoreMetrics)
	if len(enableMetrics) > 0 {
		included = enableMetrics
	}
	cache := memory.New(*storageDuration, nil)
	client := http.Client{Timeout: 10 * time.Second}
	mgr, err := manager.New(cache, sysfs.NewRealSysFs(), manager.HousekeepingConfigFlags, included, &client,
		strings.Split(*rawWhitelist, ","), strings.Split(*envWhitelist, ","), "", 0)
	if err != nil {
		klog.Fatalf("Failed to create a manager: %s", err)
	}

	reg := prometheus.NewRegistry()
	opts := v2.RequestOptions{IdType: v2.TypeName, Count: 1, Recursive: true}
	reg.MustRegister(
		metrics.NewPrometheusCollector(mgr, labelFunc(), included, clock.RealClock{}, opts),
		metrics.NewPrometheusMachineCollector(mgr, included),
	)
	mux := http.NewServeMux()
	mux.Handle(*promEndpoint, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })

	if err := mgr.Start(); err != nil {
		klog.Fatalf("Failed to start manager: %v", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		if err := mgr.Stop(); err != nil {
			klog.Errorf("Failed to stop container manager: %v", err)
		}
		klog.Infof("Exiting given signal: %v", s)
		os.Exit(0)
	}()

	addr := fmt.Sprintf("%s:%d", *listenIP, *port)
	klog.Infof("Starting cAdvisor (library %s) on %s", version.Info["version"], addr)
	klog.Fatal(http.ListenAndServe(addr, mux))
}
