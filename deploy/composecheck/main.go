// composecheck loads a compose file with compose-go, the library Docker Compose itself uses: the file is validated
// against the Compose Specification's JSON schema, interpolated, and checked for consistency (unknown services in
// depends_on, undefined volumes or networks, ...). Usage: composecheck docker-compose.yml
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
		fmt.Fprintln(os.Stderr, "usage: composecheck <compose file>")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(
		[]string{os.Args[1]},
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
			fmt.Printf("%s: valid compose file, %d services: %v\n", os.Args[1], len(names), names)
			return
		}
		err = loadErr
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
	os.Exit(1)
}
