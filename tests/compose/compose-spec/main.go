// Command compose-spec loads a compose file with compose-go, the loader (and JSON-schema
// validation) of Compose v2, and prints one line per service: name, image, cpu_shares, mem_limit
// in bytes, and the value of the label trip.enable. docker-compose 1.29, the only Compose on the
// machines that run these tests, is checked by check-files itself; this checks the other half of
// the promise "works with docker-compose 1.29 and docker compose v2".
//
// Usage: compose-spec FILE   (every profile enabled; variables from the environment)
package main

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-spec FILE")
		os.Exit(2)
	}
	opts, err := cli.NewProjectOptions([]string{os.Args[1]}, cli.WithOsEnv, cli.WithName("tripspec"),
		cli.WithProfiles([]string{"*"}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-spec:", err)
		os.Exit(1)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-spec:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(project.Services))
	for name := range project.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := project.Services[name]
		enable := s.Labels["trip.enable"]
		if enable == "" {
			enable = "-"
		}
		fmt.Printf("%s %s %d %d %s\n", name, s.Image, s.CPUShares, int64(s.MemLimit), enable)
	}
}
