// Package phpfpm starts the real PHP stack, PHP-FPM behind nginx from the
// Debian packages, for tests and benchmarks that compare Lifeline with it.
//
// [Start] writes a php-fpm configuration (one static pool on a Unix socket,
// its status page on) and an nginx configuration (one server on a free
// 127.0.0.1 port passing *.php to the pool) into a directory of the
// caller's, starts both in the foreground with every pid file, log and
// temporary file in that directory, and waits until they accept
// connections. [Server.Close] stops them. PHP runs without any php.ini
// (php-fpm -n): the caller sets what matters with [WithINI], so the result
// does not depend on the machine's /etc/php. By default nginx runs one
// worker with 512 connections and the default listen backlog; benchmarks
// tune both servers with [WithNginxWorkers], [WithNginxConnections],
// [WithListenBacklog], [WithAccessLog], [WithFastCGIKeepalive] and
// [WithCPUs].
//
//	srv, err := phpfpm.Start(ctx, phpfpm.WithDir(t.TempDir()), phpfpm.WithDocRoot("testdata/php"))
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { srv.Close() })
//	resp, err := http.Get(srv.URL() + "/hello.php")
//
// The package runs on Unix systems; it is used on Linux with Debian's
// php-fpm8.2 and nginx (make deps installs them).
package phpfpm
