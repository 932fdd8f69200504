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

// start starts a server for the examples below.
func start(opts ...phpfpm.Option) *phpfpm.Server {
	dir, err := os.MkdirTemp("", "phpfpm")
	if err != nil {
		log.Fatal(err)
	}
	opts = append([]phpfpm.Option{phpfpm.WithDir(dir), phpfpm.WithDocRoot("/srv/php")}, opts...)
	srv, err := phpfpm.Start(context.Background(), opts...)
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, err := os.MkdirTemp("", "phpfpm")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := phpfpm.Start(ctx, phpfpm.WithDir(dir), phpfpm.WithDocRoot("/srv/php"))
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

func ExampleWithDir() {
	// Configuration, socket, pid files, logs and nginx's temporary files all
	// go to the directory given; the document root is separate.
	srv, err := phpfpm.Start(context.Background(), phpfpm.WithDir("/tmp/php-run"), phpfpm.WithDocRoot("/srv/php"))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	fmt.Println(srv.Dir())
}

func ExampleWithDocRoot() {
	srv := start(phpfpm.WithDocRoot("/srv/other-scripts")) // the last WithDocRoot wins
	defer srv.Close()
}

func ExampleWithINI() {
	// PHP runs with php-fpm -n: only these settings differ from PHP's
	// built-in defaults.
	srv := start(
		phpfpm.WithINI("output_buffering", "4096"),
		phpfpm.WithINI("max_execution_time", "5"),
		phpfpm.WithINI("display_errors", "0"),
	)
	defer srv.Close()
}

func ExampleWithParam() {
	// The scripts read $_SERVER['APP_LOG'].
	srv := start(phpfpm.WithParam("APP_LOG", "/tmp/php-run/app.log"))
	defer srv.Close()
}

func ExampleWithDirectives() {
	// Let flush() reach the client at once.
	srv := start(phpfpm.WithDirectives("fastcgi_buffering off"))
	defer srv.Close()
}

func ExampleWithLocation() {
	// /gz/a.php runs a.php with nginx's gzip on; /a.php runs it without.
	srv := start(phpfpm.WithLocation("/gz/", "gzip on", "gzip_types *", "gzip_min_length 1"))
	defer srv.Close()
}

func ExampleWithWorkers() {
	srv := start(phpfpm.WithWorkers(8))
	defer srv.Close()
}

func ExampleWithNginxWorkers() {
	srv := start(phpfpm.WithNginxWorkers(0)) // worker_processes auto
	defer srv.Close()
}

func ExampleWithNginxConnections() {
	srv := start(phpfpm.WithNginxConnections(8192))
	defer srv.Close()
}

func ExampleWithListenBacklog() {
	srv := start(phpfpm.WithListenBacklog(4096))
	defer srv.Close()
}

func ExampleWithAccessLog() {
	srv := start(phpfpm.WithAccessLog(false))
	defer srv.Close()
}

func ExampleWithFastCGIKeepalive() {
	srv := start(phpfpm.WithFastCGIKeepalive(32))
	defer srv.Close()
}

func ExampleWithCPUs() {
	// The servers on CPU 0, so that a load tool can have CPU 1.
	srv := start(phpfpm.WithCPUs("0"))
	defer srv.Close()
}

func ExampleWithStartTimeout() {
	srv := start(phpfpm.WithStartTimeout(5 * time.Second))
	defer srv.Close()
}

func ExampleServer_Addr() {
	srv := start()
	defer srv.Close()
	fmt.Println(srv.Addr()) // 127.0.0.1:port, for a raw net.Dial
}

func ExampleServer_URL() {
	srv := start()
	defer srv.Close()
	fmt.Println(srv.URL() + "/index.php")
}

func ExampleServer_Dir() {
	srv := start()
	defer srv.Close()
	fmt.Println(srv.Dir()) // holds nginx.conf, php-fpm.conf, the logs
}

func ExampleServer_Version() {
	srv := start()
	defer srv.Close()
	fmt.Println(srv.Version()) // PHP 8.2.35 (fpm-fcgi), nginx/1.22.1
}

func ExampleServer_Logs() {
	srv := start()
	defer srv.Close()
	if _, err := http.Get(srv.URL() + "/broken.php"); err != nil {
		fmt.Println(err, "\n", srv.Logs())
	}
}

func ExampleServer_WaitIdle() {
	srv := start()
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

func ExampleServer_Close() {
	srv := start()
	if err := srv.Close(); err != nil {
		log.Print(err)
	}
}
