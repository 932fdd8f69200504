//go:build unix

package phpfpm_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/lifeline-go/lifeline/conformance/phpfpm"
)

// The examples need php-fpm and nginx, so they are compiled, not run.

func ExampleStart() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "phpfpm")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := phpfpm.Start(ctx,
		phpfpm.WithDir(dir),
		phpfpm.WithDocRoot("/srv/php"),
		phpfpm.WithINI("output_buffering", "4096"),
		phpfpm.WithINI("max_execution_time", "5"),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get(srv.URL() + "/index.php")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s %s\n", resp.Status, body)
}

func ExampleWithLocation() {
	// /gz/a.php runs a.php with nginx's gzip on; /a.php runs it unbuffered.
	srv, err := phpfpm.Start(context.Background(),
		phpfpm.WithDir("/tmp/php-run"),
		phpfpm.WithDocRoot("/srv/php"),
		phpfpm.WithDirectives("fastcgi_buffering off"),
		phpfpm.WithLocation("/gz/", "gzip on", "gzip_types *", "gzip_min_length 1"),
		phpfpm.WithParam("APP_LOG", "/tmp/php-run/app.log"),
		phpfpm.WithWorkers(2),
		phpfpm.WithStartTimeout(5*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	fmt.Println(srv.Addr(), srv.Dir(), srv.Version())
}

func ExampleServer_WaitIdle() {
	srv, err := phpfpm.Start(context.Background(), phpfpm.WithDir("/tmp/php-run"), phpfpm.WithDocRoot("/srv/php"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	// The script answers with fastcgi_finish_request and keeps working.
	resp, err := http.Get(srv.URL() + "/background.php")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitIdle(ctx); err != nil {
		log.Fatal(err, "\n", srv.Logs())
	}
}
