// composecheck loads a compose file with compose-go, the library Docker Compose itself uses: the file is validated
// against the Compose Specification's JSON schema, interpolated, and checked for consistency (unknown services in
// depends_on, undefined volumes or networks, ...). Usage: composecheck docker-compose.yml [override.yml ...]
// (several files are merged in order, as `docker compose -f a -f b` does)
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck <compose file> [override file ...]")
		os.Exit(2)
	}
	files := strings.Join(os.Args[1:], " + ")
	options, err := cli.NewProjectOptions(
		os.Args[1:],
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err == nil {
		var project interface{ ServiceNames() []string }
		p, loadErr := options.LoadProject(context.Background())
		if loadErr == nil {
			project = p
			names := project.ServiceNames()
			sort.Strings(names)
			fmt.Printf("%s: valid compose file, %d services: %v\n", files, len(names), names)
			return
		}
		err = loadErr
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", files, err)
	os.Exit(1)
}
